"""SQLAlchemy Core tables: the four ontology tables plus the knowledge-chunk table.

The schema itself is created by the alembic migrations in `ontology/migrations`; these objects
describe it for queries. Ids are UUIDv7 (time-ordered, so keyset pages follow creation order).
"""

from __future__ import annotations

from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

metadata = MetaData()


def _uuid_pk() -> Column[Any]:
    return Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("uuidv7()"))


entities = Table(
    "entities",
    metadata,
    _uuid_pk(),
    Column("type", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("properties", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("status", Text, nullable=False, server_default="active"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("deleted_at", DateTime(timezone=True)),
)

connections = Table(
    "connections",
    metadata,
    _uuid_pk(),
    Column("from_entity", UUID(as_uuid=True), ForeignKey("entities.id", ondelete="CASCADE"), nullable=False),
    Column("to_entity", UUID(as_uuid=True), ForeignKey("entities.id", ondelete="CASCADE"), nullable=False),
    Column("from_type", Text, nullable=False),
    Column("to_type", Text, nullable=False),
    Column("relationship_type", Text, nullable=False),
    Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("strength", Float, nullable=False, server_default=text("1.0")),
    Column("valid_from", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("valid_to", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

events = Table(
    "events",
    metadata,
    _uuid_pk(),
    Column("type", Text, nullable=False),
    Column("actor_id", UUID(as_uuid=True), ForeignKey("entities.id", ondelete="CASCADE")),
    Column("target_id", UUID(as_uuid=True), ForeignKey("entities.id", ondelete="CASCADE")),
    Column("timestamp", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
)

tags = Table(
    "tags",
    metadata,
    _uuid_pk(),
    Column("entity_id", UUID(as_uuid=True), ForeignKey("entities.id", ondelete="CASCADE"), nullable=False),
    Column("key", Text, nullable=False),
    Column("value", Text, nullable=False),
)

# Partitioned by LIST(creator_id): one partition per creator, each with its own HNSW index
# (measured: a shared index with a creator filter loses recall; see BENCH.md).
knowledge_chunks = Table(
    "knowledge_chunks",
    metadata,
    Column("creator_id", UUID(as_uuid=True), primary_key=True),
    Column(
        "id", BigInteger, primary_key=True, autoincrement=False, server_default=text("nextval('knowledge_chunk_ids')")
    ),
    Column("content_id", UUID(as_uuid=True), nullable=False),
    Column("content_type", Text, nullable=False),
    Column("chunk_no", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("tags", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("embedding", Vector(), nullable=False),
    # the content is published and not deleted: fans may find it (kept in step by EntityRepository)
    Column("published", Boolean, nullable=False, server_default=text("false")),
)

knowledge_index = Table(
    "knowledge_index",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model", Text, nullable=False),
    Column("dimension", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Local providers keep their state here (a Stripe-like ledger, sent SMS, live inputs...).
provider_records = Table(
    "provider_records",
    metadata,
    Column("provider", Text, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Messaging state (migration 0005): operational rows beside the ontology, never business facts.
inbox = Table(
    "inbox",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("platform", Text, nullable=False),
    Column("bot", Text, nullable=False, server_default=text("''")),
    Column("update_id", Text, nullable=False),
    Column("kind", Text, nullable=False, server_default=text("'fan'")),
    Column("creator_id", UUID(as_uuid=True), nullable=False),
    Column("sender_id", UUID(as_uuid=True)),
    Column("chat", Text, nullable=False, server_default=text("''")),
    Column("payload", JSONB, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("sent_at", DateTime(timezone=True)),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("done_at", DateTime(timezone=True)),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("key", Text, nullable=False, unique=True),
    Column("platform", Text, nullable=False),
    Column("bot", Text, nullable=False, server_default=text("''")),
    Column("chat", Text, nullable=False),
    Column("chat_kind", Text, nullable=False, server_default=text("'private'")),
    Column("thread", Text),
    Column("reply_to", Text),
    Column("text", Text, nullable=False),
    Column("extras", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("kind", Text, nullable=False, server_default=text("'reply'")),
    Column("creator_id", UUID(as_uuid=True)),
    Column("recipient_id", UUID(as_uuid=True)),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("not_before", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("lease_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True)),
    Column("platform_message_id", Text),
    Column("error", Text),
)

platform_cursors = Table(
    "platform_cursors",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

one_time_codes = Table(
    "one_time_codes",
    metadata,
    Column("code_hash", Text, primary_key=True),
    Column("purpose", Text, nullable=False),
    Column("subject_id", UUID(as_uuid=True)),
    Column("data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
)

api_keys = Table(
    "api_keys",
    metadata,
    _uuid_pk(),
    Column("creator_id", UUID(as_uuid=True), nullable=False),
    Column("name", Text, nullable=False),
    Column("prefix", Text, nullable=False),
    Column("key_hash", Text, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

approvals = Table(
    "approvals",
    metadata,
    _uuid_pk(),
    Column("creator_id", UUID(as_uuid=True), nullable=False),
    Column("requested_by", UUID(as_uuid=True)),
    Column("run_id", UUID(as_uuid=True)),
    Column("action", Text, nullable=False),
    Column("arguments", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("summary", Text, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("card", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("decided_by", Text),
    Column("decided_at", DateTime(timezone=True)),
    Column("result", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
)

# Commerce state (migration 0006): webhook deliveries, chain sends, token purchases, access grants.
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("source", Text, primary_key=True),
    Column("event_id", Text, primary_key=True),
    Column("type", Text, nullable=False),
    Column("object_id", Text),
    Column("vendor_created_at", DateTime(timezone=True)),
    Column("payload", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("status", Text, nullable=False, server_default=text("'received'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("error", Text),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("applied_at", DateTime(timezone=True)),
)

chain_nonces = Table(
    "chain_nonces",
    metadata,
    Column("chain", Text, primary_key=True),
    Column("signer", Text, primary_key=True),
    Column("next_nonce", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

chain_intents = Table(
    "chain_intents",
    metadata,
    Column("key", Text, primary_key=True),
    Column("chain", Text, nullable=False),
    Column("signer", Text, nullable=False),
    Column("nonce", BigInteger),
    Column("raw_tx", Text),
    Column("tx_hash", Text),
    Column("replaced_hashes", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("status", Text, nullable=False, server_default=text("'signed'")),
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("receipt", JSONB),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

token_purchases = Table(
    "token_purchases",
    metadata,
    _uuid_pk(),
    Column("key", Text, nullable=False, unique=True),
    Column("creator_id", UUID(as_uuid=True), nullable=False),
    Column("fan_id", UUID(as_uuid=True), nullable=False),
    Column("token_id", UUID(as_uuid=True), nullable=False),
    Column("chain", Text, nullable=False),
    Column("contract", Text, nullable=False),
    Column("method", Text, nullable=False),
    Column("amount", Numeric(78, 0), nullable=False),
    Column("price", BigInteger),
    Column("currency", Text),
    Column("recipient", Text, nullable=False),
    Column("state", Text, nullable=False, server_default=text("'started'")),
    Column("payment_method", Text),
    Column("payment_ref", Text),
    Column("refund_ref", Text),
    Column("tx_key", Text),
    Column("tx_hash", Text),
    Column("error", Text),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

access_grants = Table(
    "access_grants",
    metadata,
    _uuid_pk(),
    Column("creator_id", UUID(as_uuid=True), nullable=False),
    Column("fan_id", UUID(as_uuid=True), nullable=False),
    Column("membership_id", UUID(as_uuid=True), nullable=False),
    Column("platform", Text, nullable=False),
    Column("place", Text, nullable=False),
    Column("account", Text),
    Column("state", Text, nullable=False, server_default=text("'granting'")),
    Column("reason", Text),
    Column("invite_link", Text),
    Column("generation", Integer, nullable=False, server_default=text("0")),
    Column("invite_generation", Integer),
    Column("grace_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
