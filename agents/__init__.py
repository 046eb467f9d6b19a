"""Agents as data: the ten business agents and the fan-facing clone (role, prompt, tools, model),
registering a creator's team, and building a creator's AI clone from their content."""

from agents.clone_builder import CloneResult, CloneStatus, build_clone, clone_of_creator, derive_persona
from agents.specs import (
    AGENT_SPECS,
    CLONE_SPEC,
    MONEY_TOOLS,
    TOOL_NAMES,
    VENDOR_COST_TOOLS,
    AgentSpec,
    Persona,
    check_specs,
    clone_system_prompt,
)
from agents.team import agent_properties, register_team, team_of

__all__ = [
    "AGENT_SPECS",
    "CLONE_SPEC",
    "MONEY_TOOLS",
    "TOOL_NAMES",
    "VENDOR_COST_TOOLS",
    "AgentSpec",
    "CloneResult",
    "CloneStatus",
    "Persona",
    "agent_properties",
    "build_clone",
    "check_specs",
    "clone_of_creator",
    "clone_system_prompt",
    "derive_persona",
    "register_team",
    "team_of",
]
