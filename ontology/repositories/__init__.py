"""One repository per table. Every write is validated against the type registry first.

Reads skip soft-deleted entities. Pages are keyset pages over time-ordered UUIDv7 ids.
"""

from ontology.repositories._access_grants import AccessGrant, AccessGrantRepository
from ontology.repositories._api_keys import ApiKeyRepository
from ontology.repositories._approvals import ApprovalRepository
from ontology.repositories._chain_intents import ChainIntentRepository
from ontology.repositories._chunks import ChunkRepository
from ontology.repositories._codes import CodeRepository
from ontology.repositories._connections import ConnectionRepository
from ontology.repositories._cursors import CursorRepository
from ontology.repositories._entities import EntityRepository
from ontology.repositories._events import EventRepository
from ontology.repositories._inbox import InboxRepository
from ontology.repositories._outbox import OutboxRepository
from ontology.repositories._purchases import PurchaseRepository
from ontology.repositories._records import ProviderRecordRepository
from ontology.repositories._tags import TagRepository
from ontology.repositories._webhooks import WebhookEventRepository

__all__ = [
    "AccessGrant",
    "AccessGrantRepository",
    "ApiKeyRepository",
    "ApprovalRepository",
    "ChainIntentRepository",
    "ChunkRepository",
    "CodeRepository",
    "ConnectionRepository",
    "CursorRepository",
    "EntityRepository",
    "EventRepository",
    "InboxRepository",
    "OutboxRepository",
    "ProviderRecordRepository",
    "PurchaseRepository",
    "TagRepository",
    "WebhookEventRepository",
]
