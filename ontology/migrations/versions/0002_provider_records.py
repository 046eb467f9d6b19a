"""Implementation table for local providers: their state (ledgers, sent SMS, live inputs) as JSON records.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE provider_records (
            provider text NOT NULL,
            kind text NOT NULL,
            key text NOT NULL,
            data jsonb NOT NULL DEFAULT '{}'::jsonb,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (provider, kind, key)
        );
        CREATE INDEX ix_provider_records_created ON provider_records (provider, kind, created_at);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE provider_records")
