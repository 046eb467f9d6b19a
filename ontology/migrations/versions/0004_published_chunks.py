"""Knowledge chunks carry whether their content is visible to fans (published and not deleted).

Revision ID: 0004
Revises: 0003

The flag is denormalised from the content entity so a fan's search filters inside the creator's
HNSW scan instead of joining entities; the entity repository keeps it true in the same unit of
work as every status change or deletion. Chunks of already soft-deleted content are dropped.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE knowledge_chunks ADD COLUMN published boolean NOT NULL DEFAULT false;
        UPDATE knowledge_chunks k SET published = true FROM entities e
            WHERE e.id = k.content_id AND e.status = 'published' AND e.deleted_at IS NULL;
        DELETE FROM knowledge_chunks k USING entities e WHERE e.id = k.content_id AND e.deleted_at IS NOT NULL;
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE knowledge_chunks DROP COLUMN published")
