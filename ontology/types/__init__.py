"""The ontology's type registry: 46 entity, 24 connection and 38 event types as data."""

from ontology.types.connections import CONNECTION_TYPES
from ontology.types.entities import CONTENT_TYPES, ENTITY_STATUSES, ENTITY_TYPES, PUBLISHED
from ontology.types.events import ELEVATE_STEPS, EVENT_TYPES
from ontology.types.registry import KINDS, Kind, Payload, Timestamp, TypeRegistry, TypeSpec

REGISTRY = TypeRegistry((*ENTITY_TYPES, *CONNECTION_TYPES, *EVENT_TYPES))

__all__ = [
    "CONTENT_TYPES",
    "ELEVATE_STEPS",
    "ENTITY_STATUSES",
    "KINDS",
    "PUBLISHED",
    "REGISTRY",
    "Kind",
    "Payload",
    "Timestamp",
    "TypeRegistry",
    "TypeSpec",
]
