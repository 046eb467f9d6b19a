"""The registry holds exactly the types of SPEC.md section 1, each with a working model and example."""

import pytest

from ontology import REGISTRY, InvalidInput

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
    assert REGISTRY.get("entity", "video").validate({"free_form": [1, 2]})["free_form"] == [1, 2]
