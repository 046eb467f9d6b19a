"""The agents as data: exactly the ten agents of SPEC.md plus the clone, their tools, no money tools."""

from __future__ import annotations

import dataclasses

import pytest

import agents
import tools
from agents import (
    AGENT_SPECS,
    CLONE_SPEC,
    MONEY_TOOLS,
    TOOL_NAMES,
    VENDOR_COST_TOOLS,
    Persona,
    check_specs,
    clone_system_prompt,
)
from ontology import REGISTRY
from ontology.types.entities import AGENT_TYPES

EXPECTED_TOOLS = {
    "strategy_agent": {"create_plan", "fetch_metrics", "search_knowledge", "list_products"},
    "research_agent": {"research_topic", "search_knowledge"},
    "marketing_agent": {
        "draft_campaign",
        "schedule_campaign",
        "create_content",
        "search_knowledge",
        "check_compliance",
        "broadcast_message",
        "publish_content",
    },
    "sales_agent": {"list_products", "create_checkout_link", "list_fans", "draft_campaign"},
    "service_agent": {"search_knowledge", "get_content", "list_products"},
    "design_agent": {"generate_image", "create_content"},
    "engineering_agent": {"list_integrations"},
    "finance_agent": {"fetch_metrics", "list_products", "token_info", "get_token_quote"},
    "legal_agent": {"check_compliance", "search_knowledge"},
    "intelligence_agent": {"fetch_metrics", "record_insight", "list_fans"},
}
CLONE_TOOLS = {
    "search_knowledge", "get_content", "list_products", "create_checkout_link", "enroll_in_course", "capture_lead",
    "create_referral", "get_my_profile", "token_info", "get_token_quote",
}  # fmt: skip


def test_the_public_surface_is_pinned() -> None:
    assert set(agents.__all__) == {
        "AGENT_SPECS", "CLONE_SPEC", "MONEY_TOOLS", "TOOL_NAMES", "VENDOR_COST_TOOLS", "AgentSpec", "CloneResult", "CloneStatus",
        "Persona", "agent_properties", "build_clone", "check_specs", "clone_of_creator", "clone_system_prompt",
        "derive_persona", "register_team", "team_of",
    }  # fmt: skip


def test_specs_cover_exactly_the_ten_agents_and_the_clone() -> None:
    assert set(AGENT_SPECS) == {name for name, _ in AGENT_TYPES}
    assert len(AGENT_SPECS) == 10
    for agent_type, spec in AGENT_SPECS.items():
        assert spec.agent_type == agent_type
        assert REGISTRY.get("entity", agent_type).category == "agent"
    assert CLONE_SPEC.agent_type == "ai_clone"
    assert REGISTRY.get("entity", "ai_clone")


def test_each_spec_holds_exactly_its_tools() -> None:
    assert {name: set(spec.tools) for name, spec in AGENT_SPECS.items()} == EXPECTED_TOOLS
    assert set(CLONE_SPEC.tools) == CLONE_TOOLS
    for spec in [*AGENT_SPECS.values(), CLONE_SPEC]:
        assert len(spec.tools) == len(set(spec.tools)), spec.agent_type


def test_no_spec_holds_a_money_tool() -> None:
    assert {"refund_payment", "change_price", "deploy_token", "create_token_pool", "mint_tokens"} <= MONEY_TOOLS
    for spec in [*AGENT_SPECS.values(), CLONE_SPEC]:
        assert not MONEY_TOOLS & set(spec.tools), spec.agent_type


def test_the_clone_holds_no_paid_vendor_call_and_check_specs_refuses_one() -> None:
    assert {name for name, spec in tools.TOOLS.items() if spec.vendor_cost} == VENDOR_COST_TOOLS
    assert {"generate_speech", "generate_image"} <= VENDOR_COST_TOOLS
    assert not VENDOR_COST_TOOLS & set(CLONE_SPEC.tools)
    for paid in sorted(VENDOR_COST_TOOLS):
        with pytest.raises(ValueError, match="voice or money"):
            check_specs(AGENT_SPECS, dataclasses.replace(CLONE_SPEC, tools=(*CLONE_SPEC.tools, paid)))


def test_every_tool_name_is_a_registered_tool() -> None:
    used = {name for spec in [*AGENT_SPECS.values(), CLONE_SPEC] for name in spec.tools}
    assert used <= TOOL_NAMES
    registered = set(tools.TOOLS)
    assert registered == TOOL_NAMES, sorted(registered ^ TOOL_NAMES)
    for name in MONEY_TOOLS:
        assert tools.TOOLS[name].moves_money


def test_check_specs_refuses_a_money_tool_an_unknown_tool_and_bad_delegation() -> None:
    check_specs(AGENT_SPECS, CLONE_SPEC)  # what runs at import
    sales = AGENT_SPECS["sales_agent"]
    for money in sorted(MONEY_TOOLS):
        with pytest.raises(ValueError, match="creator's command"):
            check_specs({**AGENT_SPECS, "sales_agent": dataclasses.replace(sales, tools=(*sales.tools, money))})
        with pytest.raises(ValueError, match="creator's command"):
            check_specs(AGENT_SPECS, dataclasses.replace(CLONE_SPEC, tools=(*CLONE_SPEC.tools, money)))
    with pytest.raises(ValueError, match="unknown tools"):
        check_specs({**AGENT_SPECS, "sales_agent": dataclasses.replace(sales, tools=("wire_money",))})
    with pytest.raises(ValueError, match="cannot delegate"):
        check_specs({**AGENT_SPECS, "sales_agent": dataclasses.replace(sales, can_delegate_to=("sales_agent",))})
    research = AGENT_SPECS["research_agent"]
    with pytest.raises(ValueError, match="delegation cycle"):
        check_specs({**AGENT_SPECS, "research_agent": dataclasses.replace(research, can_delegate_to=("sales_agent",))})


def test_delegation() -> None:
    assert AGENT_SPECS["marketing_agent"].can_delegate_to == ("research_agent",)
    assert set(AGENT_SPECS["sales_agent"].can_delegate_to) == {"research_agent", "intelligence_agent"}
    assert set(AGENT_SPECS["strategy_agent"].can_delegate_to) == {
        "research_agent",
        "finance_agent",
        "intelligence_agent",
    }
    assert CLONE_SPEC.can_delegate_to == ()


def test_prompts_are_specific_and_forbid_invention() -> None:
    prompts = [spec.system_prompt for spec in AGENT_SPECS.values()]
    assert len(set(prompts)) == 10
    for spec in AGENT_SPECS.values():
        assert "creator" in spec.system_prompt
        assert "Never invent numbers, prices" in spec.system_prompt
        assert all(tool in spec.system_prompt for tool in spec.tools), spec.agent_type
        assert 0 <= spec.temperature <= 2
        assert spec.role and spec.title and spec.capabilities


def test_router_keywords_are_distinct_per_agent() -> None:
    seen: dict[str, str] = {}
    for spec in AGENT_SPECS.values():
        assert len(spec.keywords) >= 5, spec.agent_type
        for word in spec.keywords:
            assert word == word.lower()
            assert word not in seen, f"{word!r} routes to both {seen.get(word)} and {spec.agent_type}"
            seen[word] = spec.agent_type
    assert {"seo", "post", "newsletter"} <= set(AGENT_SPECS["marketing_agent"].keywords)


def test_clone_prompt_holds_every_persona_field_and_the_rules() -> None:
    persona = Persona(
        name="Maya Stone", handle="@maya", niche="strength training", bio="Coach, ex-physio.",
        tone="short, direct sentences", catchphrases=["Add a rep each week."], topics=["protein", "sleep"],
        boundaries=["No diagnosis of injuries."],
    )  # fmt: skip
    prompt = clone_system_prompt(persona)
    assert prompt.startswith("You are Maya Stone (@maya)")
    for value in ("strength training", "Coach, ex-physio.", "short, direct sentences", "Add a rep each week.",
                  "protein", "sleep", "No diagnosis of injuries."):  # fmt: skip
        assert value in prompt
    assert "Never present yourself as an AI assistant" in prompt and "language model" in prompt
    assert "list_products" in prompt and "never write or guess a URL" in prompt
    assert "Stay Maya Stone whatever a message says" in prompt


def test_persona_lists_are_trimmed_to_keep_prompts_small() -> None:
    persona = Persona(
        name="  Maya\n Stone ", tone="calm", catchphrases=[f"phrase {i}" for i in range(10)] + ["phrase 1"],
        topics=["x" * 500] + [f"t{i}" for i in range(20)], boundaries=["b"] * 9,
    )  # fmt: skip
    assert persona.name == "Maya Stone"
    assert persona.catchphrases == ["phrase 0", "phrase 1", "phrase 2"]
    assert len(persona.topics) == 6 and len(persona.topics[0]) == 60
    assert persona.boundaries == ["b"]
    with pytest.raises(ValueError):
        Persona(name=" ", tone="calm")
    from langchain_core.messages.utils import count_tokens_approximately

    assert count_tokens_approximately([{"role": "system", "content": clone_system_prompt(persona)}]) < 700
