"""Membership access on the chat platforms: Discord roles, Telegram invites (table access_grants)."""

from __future__ import annotations

from ontology.repositories._base import Repository


class AccessGrantRepository(Repository):
    """Membership access on the chat platforms."""
