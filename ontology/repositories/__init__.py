"""One repository per table. Every write is validated against the type registry first.

Reads skip soft-deleted entities. Pages are keyset pages over time-ordered UUIDv7 ids.
"""

from ontology.repositories._chunks import ChunkRepository
from ontology.repositories._connections import ConnectionRepository
from ontology.repositories._entities import EntityRepository
from ontology.repositories._events import EventRepository
from ontology.repositories._records import ProviderRecordRepository
from ontology.repositories._tags import TagRepository

__all__ = [
    "ChunkRepository",
    "ConnectionRepository",
    "EntityRepository",
    "EventRepository",
    "ProviderRecordRepository",
    "TagRepository",
]
