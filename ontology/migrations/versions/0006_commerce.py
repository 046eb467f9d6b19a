"""Commerce: vendor webhook deliveries (applied once), chain send intents and nonces, token purchases
in flight, and membership access grants on the chat platforms.

Revision ID: 0006
Revises: 0005

Like 0005 these are operational rows beside the ontology; the business facts stay events,
connections and entities, written in the same unit of work as the row that drives them.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # -- webhook deliveries (Stripe, SendGrid): each vendor event id is applied once --------------
    op.execute(
        """
        CREATE TABLE webhook_events (
            source text NOT NULL,
            event_id text NOT NULL,
            type text NOT NULL,
            object_id text,
            vendor_created_at timestamptz,
            payload jsonb NOT NULL DEFAULT '{}'::jsonb,
            status text NOT NULL DEFAULT 'received',
            attempts integer NOT NULL DEFAULT 0,
            error text,
            received_at timestamptz NOT NULL DEFAULT now(),
            applied_at timestamptz,
            PRIMARY KEY (source, event_id)
        );
        CREATE INDEX ix_webhook_events_open ON webhook_events (source, received_at) WHERE status = 'received';
        CREATE INDEX ix_webhook_events_object ON webhook_events (source, object_id);
        """
    )
    # -- chain sends: one nonce counter per (chain, signer), one intent per idempotency key ---------
    op.execute(
        """
        CREATE TABLE chain_nonces (
            chain text NOT NULL,
            signer text NOT NULL,
            next_nonce bigint NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (chain, signer)
        );

        CREATE TABLE chain_intents (
            key text PRIMARY KEY,
            chain text NOT NULL,
            signer text NOT NULL,
            nonce bigint,
            raw_tx text,
            tx_hash text,
            replaced_hashes jsonb NOT NULL DEFAULT '[]'::jsonb,
            status text NOT NULL DEFAULT 'signed',
            details jsonb NOT NULL DEFAULT '{}'::jsonb,
            receipt jsonb,
            attempts integer NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE UNIQUE INDEX uq_chain_intents_nonce ON chain_intents (chain, signer, nonce)
            WHERE nonce IS NOT NULL AND status <> 'dropped';
        CREATE INDEX ix_chain_intents_open ON chain_intents (chain, signer, nonce) WHERE status IN ('signed', 'sent');
        """
    )
    # -- token purchases in flight: the state machine the reconciler finishes or compensates --------
    op.execute(
        """
        CREATE TABLE token_purchases (
            id uuid PRIMARY KEY DEFAULT uuidv7(),
            key text NOT NULL UNIQUE,
            creator_id uuid NOT NULL,
            fan_id uuid NOT NULL,
            token_id uuid NOT NULL,
            chain text NOT NULL,
            contract text NOT NULL,
            method text NOT NULL,
            amount numeric(78, 0) NOT NULL,
            price bigint,
            currency text,
            recipient text NOT NULL,
            state text NOT NULL DEFAULT 'started',
            payment_method text,
            payment_ref text,
            refund_ref text,
            tx_key text,
            tx_hash text,
            error text,
            attempts integer NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_token_purchases_open ON token_purchases (updated_at)
            WHERE state NOT IN ('completed', 'refunded', 'failed');
        CREATE INDEX ix_token_purchases_fan ON token_purchases (fan_id, created_at);
        """
    )
    # -- membership access on the chat platforms: a Discord role, a Telegram invite -----------------
    op.execute(
        """
        CREATE TABLE access_grants (
            id uuid PRIMARY KEY DEFAULT uuidv7(),
            creator_id uuid NOT NULL,
            fan_id uuid NOT NULL,
            membership_id uuid NOT NULL,
            platform text NOT NULL,
            place text NOT NULL,
            account text,
            state text NOT NULL DEFAULT 'granting',
            reason text,
            invite_link text,
            generation integer NOT NULL DEFAULT 0,
            invite_generation integer,
            grace_until timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT uq_access_grant UNIQUE (membership_id, fan_id, platform, place)
        );
        CREATE INDEX ix_access_grants_fan ON access_grants (fan_id);
        CREATE INDEX ix_access_grants_grace ON access_grants (grace_until) WHERE grace_until IS NOT NULL;
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE access_grants, token_purchases, chain_intents, chain_nonces, webhook_events")
