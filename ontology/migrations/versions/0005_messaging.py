"""Messaging: the inbox (incoming updates, deduplicated), the outbox (every outgoing message),
platform cursors (Telegram's update offset, Discord's last seen message), one-time codes (account
links, step-up), API keys, and approvals of agent actions that reach people or money.

Revision ID: 0005
Revises: 0004

Rows here are operational state, not business facts: the business facts stay events.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE inbox (
            id bigserial PRIMARY KEY,
            platform text NOT NULL,
            bot text NOT NULL DEFAULT '',
            update_id text NOT NULL,
            kind text NOT NULL DEFAULT 'fan',
            creator_id uuid NOT NULL,
            sender_id uuid,
            chat text NOT NULL DEFAULT '',
            payload jsonb NOT NULL,
            status text NOT NULL DEFAULT 'pending',
            attempts integer NOT NULL DEFAULT 0,
            sent_at timestamptz,
            received_at timestamptz NOT NULL DEFAULT now(),
            done_at timestamptz,
            CONSTRAINT uq_inbox_update UNIQUE (platform, bot, update_id)
        );
        CREATE INDEX ix_inbox_pending ON inbox (creator_id, sender_id, id) WHERE status = 'pending';

        CREATE TABLE outbox (
            id bigserial PRIMARY KEY,
            key text NOT NULL UNIQUE,
            platform text NOT NULL,
            bot text NOT NULL DEFAULT '',
            chat text NOT NULL,
            chat_kind text NOT NULL DEFAULT 'private',
            thread text,
            reply_to text,
            text text NOT NULL,
            extras jsonb NOT NULL DEFAULT '{}'::jsonb,
            kind text NOT NULL DEFAULT 'reply',
            creator_id uuid,
            recipient_id uuid,
            status text NOT NULL DEFAULT 'pending',
            attempts integer NOT NULL DEFAULT 0,
            not_before timestamptz NOT NULL DEFAULT now(),
            lease_until timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            sent_at timestamptz,
            platform_message_id text,
            error text
        );
        CREATE INDEX ix_outbox_due ON outbox (platform, not_before, id) WHERE status IN ('pending', 'sending');
        CREATE INDEX ix_outbox_chat ON outbox (platform, bot, chat, id) WHERE status IN ('pending', 'sending');
        CREATE INDEX ix_outbox_recipient ON outbox (recipient_id) WHERE status = 'pending';

        CREATE TABLE platform_cursors (
            name text PRIMARY KEY,
            value text NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE one_time_codes (
            code_hash text PRIMARY KEY,
            purpose text NOT NULL,
            subject_id uuid,
            data jsonb NOT NULL DEFAULT '{}'::jsonb,
            attempts integer NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            used_at timestamptz
        );
        CREATE INDEX ix_codes_subject ON one_time_codes (purpose, subject_id) WHERE used_at IS NULL;

        CREATE TABLE api_keys (
            id uuid PRIMARY KEY DEFAULT uuidv7(),
            creator_id uuid NOT NULL,
            name text NOT NULL,
            prefix text NOT NULL,
            key_hash text NOT NULL UNIQUE,
            created_at timestamptz NOT NULL DEFAULT now(),
            last_used_at timestamptz,
            revoked_at timestamptz
        );
        CREATE INDEX ix_api_keys_creator ON api_keys (creator_id, created_at);

        CREATE TABLE approvals (
            id uuid PRIMARY KEY DEFAULT uuidv7(),
            creator_id uuid NOT NULL,
            requested_by uuid,
            run_id uuid,
            action text NOT NULL,
            arguments jsonb NOT NULL DEFAULT '{}'::jsonb,
            summary text NOT NULL,
            status text NOT NULL DEFAULT 'pending',
            card jsonb NOT NULL DEFAULT '{}'::jsonb,
            decided_by text,
            decided_at timestamptz,
            result text,
            created_at timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz
        );
        CREATE INDEX ix_approvals_open ON approvals (creator_id, created_at) WHERE status IN ('pending', 'approved');
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE approvals, api_keys, one_time_codes, platform_cursors, outbox, inbox")
