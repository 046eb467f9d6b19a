"""Who is who on the chat platforms: the creator and their team (linked, never created as fans).

A creator's own accounts are `identities` on the creator entity, their team's accounts `team`
(platform -> account ids); only these people may command the creator's agents.
"""

from __future__ import annotations

import uuid

from ontology import NotFound, UnitOfWork

__all__ = ["is_creator_or_team"]


def is_creator_or_team(uow: UnitOfWork, creator_id: uuid.UUID, platform: str, account: str) -> bool:
    """Whether (platform, account) is the creator themself or one of their team."""
    try:
        creator = uow.entities.get(creator_id)
    except NotFound:
        return False
    if creator.type != "creator":
        return False
    properties = creator.properties
    if (properties.get("identities") or {}).get(platform) == account:
        return True
    return account in ((properties.get("team") or {}).get(platform) or [])
