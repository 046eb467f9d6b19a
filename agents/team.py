"""A creator's team: the ten business agents as entities that `manage` (work for) the creator.

    agents = register_team(store, creator.id)   # creates what is missing, in one unit of work
    agents["marketing_agent"].properties["tools"]

Registering is idempotent: agents the creator already has are returned, not created again.
"""

from __future__ import annotations

import uuid
from typing import Any

from agents.specs import AGENT_SPECS, AgentSpec
from ontology import Entity, InvalidInput, Store, UnitOfWork

__all__ = ["agent_properties", "lock_creator", "register_team", "team_of"]


def agent_properties(spec: AgentSpec) -> dict[str, Any]:
    """The agent entity's properties for a spec (the ontology's agent property model)."""
    return {
        "agentType": spec.agent_type,
        "systemPrompt": spec.system_prompt,
        "model": spec.model,
        "temperature": spec.temperature,
        "tools": list(spec.tools),
        "capabilities": list(spec.capabilities),
        "totalExecutions": 0,
    }


def lock_creator(uow: UnitOfWork, creator_id: uuid.UUID | str) -> Entity:
    """The creator, row-locked until the unit of work ends, so concurrent registrations for one
    creator run one after the other and the second sees what the first wrote (InvalidInput if
    the id is not a creator's, NotFound if there is no such entity)."""
    entity = uow.entities.get_for_update(creator_id)
    if entity.type != "creator":
        raise InvalidInput(f"agents and clones work for a creator; {entity.id} is a {entity.type}")
    return entity


def _team(uow: UnitOfWork, creator_id: uuid.UUID) -> dict[str, Entity]:
    found: dict[str, Entity] = {}
    for neighbour in uow.entities.neighbours(creator_id, "manages", direction="in"):
        entity = neighbour.entity
        if entity.type in AGENT_SPECS and entity.type not in found:
            found[entity.type] = entity
    return found


def register_team(store: Store, creator_id: uuid.UUID | str) -> dict[str, Entity]:
    """Create the creator's ten business agents (entity, `manages` agent -> creator, agent_created event
    each) in one unit of work and return them by agent type; agents that already exist are kept as they are."""
    with store.unit_of_work() as uow:
        creator = lock_creator(uow, creator_id)
        team = _team(uow, creator.id)
        for agent_type, spec in AGENT_SPECS.items():
            if agent_type in team:
                continue
            agent = uow.entities.insert(agent_type, f"{spec.title} for {creator.name}", agent_properties(spec))
            uow.connections.insert(agent.id, creator.id, "manages")
            uow.events.insert(
                "agent_created",
                actor_id=creator.id,
                target_id=agent.id,
                metadata={"agentType": agent_type, "tools": list(spec.tools)},
            )
            team[agent_type] = agent
        uow.commit()
    return {agent_type: team[agent_type] for agent_type in AGENT_SPECS}


def team_of(store: Store, creator_id: uuid.UUID | str) -> dict[str, Entity]:
    """The creator's registered business agents by agent type (empty if none were registered)."""
    with store.unit_of_work() as uow:
        creator = uow.entities.get(creator_id)
        team = _team(uow, creator.id)
    return {agent_type: team[agent_type] for agent_type in AGENT_SPECS if agent_type in team}
