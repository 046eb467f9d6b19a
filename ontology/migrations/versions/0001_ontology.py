"""The four ontology tables, the knowledge-chunk table (partitioned per creator) and its index record.

Revision ID: 0001
Revises:
"""

from alembic import context, op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    dimension = int(context.config.attributes["embedding_dimension"])
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.execute(
        """
        CREATE TABLE entities (
            id uuid PRIMARY KEY DEFAULT uuidv7(),
            type text NOT NULL,
            name text NOT NULL,
            properties jsonb NOT NULL DEFAULT '{}'::jsonb,
            status text NOT NULL DEFAULT 'active',
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            deleted_at timestamptz
        );
        CREATE INDEX ix_entities_type ON entities (type) WHERE deleted_at IS NULL;
        CREATE INDEX ix_entities_status ON entities (status) WHERE deleted_at IS NULL;
        CREATE INDEX ix_entities_type_status ON entities (type, status, id) WHERE deleted_at IS NULL;
        CREATE INDEX ix_entities_name_fts ON entities USING gin (to_tsvector('simple', name))
            WHERE deleted_at IS NULL;
        CREATE UNIQUE INDEX uq_creator_email ON entities (lower(properties->>'email'))
            WHERE type = 'creator' AND deleted_at IS NULL;
        CREATE UNIQUE INDEX uq_creator_handle ON entities (lower(properties->>'handle'))
            WHERE type = 'creator' AND deleted_at IS NULL;

        CREATE TABLE connections (
            id uuid PRIMARY KEY DEFAULT uuidv7(),
            from_entity uuid NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
            to_entity uuid NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
            from_type text NOT NULL,
            to_type text NOT NULL,
            relationship_type text NOT NULL,
            metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
            strength double precision NOT NULL DEFAULT 1.0 CHECK (strength >= 0 AND strength <= 1),
            valid_from timestamptz NOT NULL DEFAULT now(),
            valid_to timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            CHECK (valid_to IS NULL OR valid_to >= valid_from)
        );
        -- trailing id: neighbours are paged in id order straight from the index, even for 100k-connection hubs
        CREATE INDEX ix_connections_from ON connections (from_entity, id);
        CREATE INDEX ix_connections_to ON connections (to_entity, id);
        CREATE INDEX ix_connections_from_rel ON connections (from_entity, relationship_type, id);
        CREATE INDEX ix_connections_to_rel ON connections (to_entity, relationship_type, id);

        CREATE TABLE events (
            id uuid PRIMARY KEY DEFAULT uuidv7(),
            type text NOT NULL,
            actor_id uuid REFERENCES entities(id) ON DELETE CASCADE,
            target_id uuid REFERENCES entities(id) ON DELETE CASCADE,
            "timestamp" timestamptz NOT NULL DEFAULT now(),
            metadata jsonb NOT NULL DEFAULT '{}'::jsonb
        );
        CREATE INDEX ix_events_type ON events (type, "timestamp");
        CREATE INDEX ix_events_actor ON events (actor_id, "timestamp");
        CREATE INDEX ix_events_timestamp ON events ("timestamp");
        CREATE INDEX ix_events_target_timestamp ON events (target_id, "timestamp");

        CREATE TABLE tags (
            id uuid PRIMARY KEY DEFAULT uuidv7(),
            entity_id uuid NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
            key text NOT NULL,
            value text NOT NULL,
            UNIQUE (entity_id, key, value)
        );
        CREATE INDEX ix_tags_key_value ON tags (key, value, entity_id);

        CREATE TABLE knowledge_index (
            id integer PRIMARY KEY CHECK (id = 1),
            model text NOT NULL,
            dimension integer NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        """
    )
    op.execute(
        f"""
        CREATE SEQUENCE knowledge_chunk_ids;
        -- a plain sequence, not an identity: bulk loads build a partition as a standalone table
        CREATE TABLE knowledge_chunks (
            creator_id uuid NOT NULL,
            id bigint NOT NULL DEFAULT nextval('knowledge_chunk_ids'),
            content_id uuid NOT NULL,
            content_type text NOT NULL,
            chunk_no integer NOT NULL,
            text text NOT NULL,
            tags text[] NOT NULL DEFAULT '{{}}',
            embedding vector({dimension}) NOT NULL,
            PRIMARY KEY (creator_id, id)
        ) PARTITION BY LIST (creator_id);
        CREATE INDEX ix_chunks_content ON knowledge_chunks (creator_id, content_id);
        CREATE INDEX ix_chunks_embedding ON knowledge_chunks
            USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP TABLE knowledge_chunks, knowledge_index, tags, events, connections, entities CASCADE;"
        "DROP SEQUENCE knowledge_chunk_ids"
    )
