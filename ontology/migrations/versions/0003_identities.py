"""Find a person by a platform account (Discord/Telegram/Slack/console id) in one index lookup.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_entities_identities ON entities USING gin ((properties->'identities') jsonb_path_ops) "
        "WHERE deleted_at IS NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_entities_identities")
