"""The registry holds exactly the types of SPEC.md section 1, each with a working model and example."""

from datetime import UTC, datetime

import pytest
from pydantic import create_model

from ontology import REGISTRY, InvalidInput
from ontology.types import Payload, TypeSpec
from ontology.types.registry import MAX_KEYS_NAMED

ENTITY_TYPES = [
    "creator",
    "ai_clone",
    "audience_member",
    "strategy_agent",
    "research_agent",
    "marketing_agent",
    "sales_agent",
    "service_agent",
    "design_agent",
    "engineering_agent",
    "finance_agent",
    "legal_agent",
    "intelligence_agent",
    "blog_post",
    "video",
    "podcast",
    "social_post",
    "email",
    "course",
    "lesson",
    "digital_product",
    "membership",
    "consultation",
    "nft",
    "community",
    "conversation",
    "message",
    "token",
    "knowledge_item",
    "website",
    "landing_page",
    "template",
    "livestream",
    "recording",
    "media_asset",
    "payment",
    "subscription",
    "invoice",
    "metric",
    "insight",
    "prediction",
    "report",
    "notification",
    "campaign",
    "referral",
    "lead",
]
CONNECTION_TYPES = [
    "owns",
    "created_by",
    "clone_of",
    "trained_on",
    "powers",
    "published_to",
    "part_of",
    "references",
    "member_of",
    "following",
    "moderates",
    "participated_in",
    "manages",
    "reports_to",
    "collaborates_with",
    "assigned_to",
    "holds_tokens",
    "earned_from",
    "enrolled_in",
    "teaching",
    "transacted",
    "referred",
    "notified",
    "analyzed_by",
]
EVENT_TYPES = [
    "creator_created",
    "creator_updated",
    "clone_created",
    "clone_interaction",
    "clone_generated_content",
    "voice_cloned",
    "appearance_cloned",
    "agent_created",
    "agent_executed",
    "content_changed",
    "content_interacted",
    "user_joined",
    "user_engaged",
    "ugc_created",
    "course_enrolled",
    "lesson_completed",
    "course_completed",
    "certificate_earned",
    "token_deployed",
    "token_transacted",
    "governance_vote",
    "revenue_generated",
    "cost_incurred",
    "viral_share",
    "achievement_unlocked",
    "metric_calculated",
    "insight_generated",
    "prediction_made",
    "optimization_applied",
    "report_generated",
    "payment_processed",
    "subscription_updated",
    "livestream_status_changed",
    "livestream_interaction",
    "notification_delivered",
    "referral_activity",
    "lead_captured",
    "journey_progressed",
]


def test_exactly_the_spec_types() -> None:
    assert (len(ENTITY_TYPES), len(CONNECTION_TYPES), len(EVENT_TYPES)) == (46, 24, 38)
    assert REGISTRY.names("entity") == ENTITY_TYPES
    assert REGISTRY.names("connection") == CONNECTION_TYPES
    assert REGISTRY.names("event") == EVENT_TYPES


@pytest.mark.parametrize("kind", ["entity", "connection", "event"])
def test_every_example_validates_and_describes(kind: str) -> None:
    for spec in REGISTRY.specs(kind):  # type: ignore[arg-type]
        assert spec.description
        spec.validate(spec.example)
        assert spec.describe()["schema"]["type"] == "object"


def test_unknown_type_names_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match="unknown entity type 'wizard'.*creator"):
        REGISTRY.get("entity", "wizard")


def test_seed_directions() -> None:
    manages = REGISTRY.get("connection", "manages")
    assert manages.to_types == {"creator"} and "marketing_agent" in manages.from_types
    assert REGISTRY.get("connection", "clone_of").from_types == {"ai_clone"}
    REGISTRY.check_connection_ends("owns", "creator", "blog_post")
    with pytest.raises(InvalidInput, match="cannot go from a creator to a marketing_agent"):
        REGISTRY.check_connection_ends("manages", "creator", "marketing_agent")


def test_models_type_their_fields() -> None:
    with pytest.raises(InvalidInput, match="price"):
        REGISTRY.get("entity", "membership").validate({"price": "free"})
    with pytest.raises(InvalidInput, match="never floats"):
        REGISTRY.get("entity", "token").validate({"totalSupply": 1.5})
    with pytest.raises(InvalidInput, match="action"):
        REGISTRY.get("event", "content_changed").validate({"action": "exploded"})
    with pytest.raises(InvalidInput, match="step"):
        REGISTRY.get("event", "journey_progressed").validate({"step": "teleport", "action": "entered"})
    assert REGISTRY.get("connection", "owns").validate({}) == {"revenueShare": 1.0}
    with pytest.raises(InvalidInput, match=r"unknown key 'free_form'\. Allowed keys: body, currency, price"):
        REGISTRY.get("entity", "video").validate({"free_form": [1, 2]})


@pytest.mark.parametrize(
    ("kind", "name", "payload", "message"),
    [
        ("entity", "digital_product", {"price": True}, r"price: Input should be a valid integer \(got bool True\)"),
        ("entity", "digital_product", {"price": "4900"}, r"price: Input should be a valid integer \(got str '4900'\)"),
        ("entity", "digital_product", {"prce": 4900}, r"unknown key 'prce'"),
        ("entity", "payment", {"refunded": 1}, r"refunded: Input should be a valid boolean"),
        ("entity", "ai_clone", {"knowledgeBaseSize": 3.0}, r"knowledgeBaseSize: Input should be a valid integer"),
        ("entity", "marketing_agent", {"tools": "all"}, r"tools: Input should be a valid list"),
        ("connection", "transacted", {"transactionType": "payment", "amount": "4900", "currency": "USD"}, "amount"),
        ("connection", "enrolled_in", {"progress": True}, r"progress: Input should be a valid number"),
        ("connection", "clone_of", {"since": "2020"}, r"unknown key 'since'\. Allowed keys: none"),
        ("event", "payment_processed", {"amount": 4900, "currency": "USD", "status": "completed", "amout": 1}, "amout"),
        ("event", "clone_interaction", {"guard": {"prices": "1"}}, r"guard\.prices: Input should be a valid integer"),
        ("event", "clone_interaction", {"guard": {"price": 1}}, r"unknown key 'guard\.price'"),
        ("event", "user_engaged", {"anything": 1}, r"unknown key 'anything'"),
    ],
)
def test_models_are_strict(kind: str, name: str, payload: dict[str, object], message: str) -> None:
    spec = REGISTRY.get(kind, name)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=message) as caught:
        spec.validate(payload)
    assert "Allowed keys: " + (", ".join(spec.model.allowed_keys()[:5]) or "none") in str(caught.value)


def test_a_long_list_of_allowed_keys_is_cut_politely() -> None:
    wide = create_model("Wide", __base__=Payload, **{f"key{i:02}": (int | None, None) for i in range(25)})
    spec = TypeSpec(kind="event", name="wide", description="many keys", model=wide)
    with pytest.raises(InvalidInput) as caught:
        spec.validate({"colour": "red"})
    assert str(caught.value).endswith(
        "unknown key 'colour'. Allowed keys: "
        + ", ".join(f"key{i:02}" for i in range(MAX_KEYS_NAMED))
        + " (+5 more: see `one types --kind event`)"
    )


def test_timestamps_take_datetimes_or_iso_strings_and_store_iso() -> None:
    spec = REGISTRY.get("entity", "campaign")
    when = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    from_python = spec.validate({"startsAt": when})
    from_json = spec.validate({"startsAt": "2026-03-01T09:00:00+00:00"})
    assert from_python == from_json and datetime.fromisoformat(from_json["startsAt"]) == when
    assert spec.validate(from_json) == from_json  # JSONB read back re-validates unchanged (update merges)
    for bad in ("next tuesday", 1_772_355_600, True):
        with pytest.raises(InvalidInput, match="startsAt"):
            spec.validate({"startsAt": bad})


def test_floats_take_ints_but_ints_take_no_floats() -> None:
    assert REGISTRY.get("connection", "owns").validate({"revenueShare": 1}) == {"revenueShare": 1.0}
    with pytest.raises(InvalidInput, match="price"):
        REGISTRY.get("entity", "membership").validate({"price": 49.0})
