"""Business tools: metrics, insights, plans, campaigns, compliance, integrations, speech and images."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from one.providers import PROVIDERS
from ontology import Store
from providers.stripe import LocalStripe
from tests.tools.conftest import ContextFactory, World, call, ok, row_counts
from tools import Role, ToolContext, execute
from tools.media import DEFAULT_VOICE_ID
from tools.operations import PROVIDER_NAMES

pytestmark = pytest.mark.timeout(180)


def test_fetch_metrics_counts_the_creators_records_and_logs_them(
    make_ctx: ContextFactory, world: World, rival: World, store: Store
) -> None:
    fan = make_ctx(Role.FAN, run_id="metrics-run")
    link = ok(fan, "create_checkout_link", product_id=str(world.products["playbook"].id))
    stripe: LocalStripe = fan.providers.get("stripe")
    with store.unit_of_work() as uow:
        payment = uow.entities.get(link["payment_id"])
    stripe.complete_checkout_session(payment.properties["providerRef"])
    with store.unit_of_work() as uow:  # what the Stripe webhook handler records on completion
        uow.events.insert(
            "payment_processed",
            actor_id=world.fan.id,
            target_id=payment.id,
            metadata={"amount": 4900, "currency": "USD", "providerRef": "pi_x", "status": "completed"},
        )
        uow.commit()
    ok(
        make_ctx(Role.FAN, of=rival, run_id="rival-metrics"),
        "create_checkout_link",
        product_id=str(rival.products["call"].id),
    )

    data = ok(make_ctx(Role.AGENT), "fetch_metrics", period_days=7)
    metrics = data["metrics"]
    assert metrics["revenue"] == {"USD": 4900} and metrics["payments_completed"] == 1
    assert metrics["checkouts_started"] == 1 and metrics["fans"] == 2 and metrics["products_for_sale"] == 5
    assert metrics["content_pieces"] == 4 and metrics["published_content"] == 3  # 2 courses + 1 post published
    assert "$49.00" in data["summary"]
    with store.unit_of_work() as uow:
        logged = uow.events.query(type="metric_calculated", target_id=world.creator.id)
    names = {e.metadata["name"]: e.metadata for e in logged}
    assert names["revenue"]["value"] == 4900 and names["fans"]["value"] == 2 and names["fans"]["period"] == "7d"
    assert str(call(make_ctx(Role.CREATOR), "fetch_metrics", period_days=0).content).startswith("error:")


def test_record_insight_saves_an_owned_insight_and_its_event(
    make_ctx: ContextFactory, world: World, store: Store
) -> None:
    data = ok(make_ctx(Role.AGENT), "record_insight", text="Most sales come from the Sunday newsletter.")
    with store.unit_of_work() as uow:
        insight = uow.entities.get(data["insight_id"])
        events = uow.events.query(type="insight_generated", target_id=insight.id)
        owners = uow.connections.query(to_id=insight.id, type="owns")
    assert insight.type == "insight" and insight.properties["source"] == "marketing_agent"
    assert [e.actor_id for e in events] == [world.agent.id] and [c.from_entity for c in owners] == [world.creator.id]


def test_campaigns_are_drafted_then_scheduled_by_their_creator_only(
    make_ctx: ContextFactory, world: World, rival: World, store: Store
) -> None:
    agent = make_ctx(Role.AGENT)
    draft = ok(
        agent, "draft_campaign", goal="Sell the Pro Course to newsletter readers", steps=["Sell", "hook", "nurture"]
    )
    assert draft["steps"] == ["hook", "sell", "nurture"] and draft["status"] == "draft"
    whole = ok(make_ctx(Role.CREATOR), "draft_campaign", goal="Welcome new fans")
    assert len(whole["steps"]) == 9
    bad = call(agent, "draft_campaign", goal="x", steps=["teleport"])
    assert str(bad.content).startswith("error: unknown ELEVATE step")

    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    done = ok(agent, "schedule_campaign", campaign_id=draft["campaign_id"], start_at=start.isoformat())
    with store.unit_of_work() as uow:
        campaign = uow.entities.get(draft["campaign_id"])
    assert campaign.status == "scheduled" and datetime.fromisoformat(campaign.properties["startsAt"]) == start
    assert done["starts_at"] == start.isoformat()
    past = call(agent, "schedule_campaign", campaign_id=whole["campaign_id"], start_at="2001-01-01T00:00:00")
    assert "in the past" in str(past.content)
    garbage = call(agent, "schedule_campaign", campaign_id=whole["campaign_id"], start_at="next tuesday")
    assert "ISO" in str(garbage.content)

    theirs = ok(make_ctx(Role.CREATOR, of=rival), "draft_campaign", goal="Rival launch")
    before = row_counts(store)
    stolen = call(agent, "schedule_campaign", campaign_id=theirs["campaign_id"], start_at=start.isoformat())
    assert str(stolen.content).startswith("error: there is no campaign")
    assert row_counts(store) == before


def test_create_plan_states_baselines_from_metrics_and_invents_no_targets(
    make_ctx: ContextFactory, world: World, store: Store
) -> None:
    data = ok(make_ctx(Role.CREATOR), "create_plan", goal="Grow my audience and sell more courses", horizon_weeks=12)
    objectives = {o["objective"].split(":")[0]: o for o in data["objectives"]}
    assert set(objectives) == {"Grow revenue", "Grow the audience", "Grow course enrolments"}
    fans = next(kr for kr in objectives["Grow the audience"]["key_results"] if kr["measure"] == "fans following you")
    assert fans["baseline"] == 2 and fans["target"] == "set by the creator"
    assert data["milestones"] == [f"week {w}: review the key results with fetch_metrics" for w in (4, 8, 12)]
    with store.unit_of_work() as uow:
        report = uow.entities.get(data["report_id"])
        events = uow.events.query(type="report_generated", target_id=report.id)
    assert report.type == "report" and report.properties["kind"] == "plan" and len(events) == 1


@pytest.mark.parametrize(
    ("text", "channel", "rules"),
    [
        ("Join my program and make $5,000 a month, guaranteed income!", None, {"income_claim"}),
        ("This tea cures anxiety. Lose 20 pounds in 10 days!", None, {"health_claim"}),
        ("Loving these shoes, use my code AVA20 for 20% off", "social_post", {"missing_ad_disclosure"}),
        ("#ad Loving these shoes, use my code AVA20 for 20% off", "social_post", set()),
        ("Subject: New course\nHi! The course is open. Reply with questions.", None, {"missing_unsubscribe"}),
        ("Hi! The course is open.\nUnsubscribe: {{unsubscribe_url}}", "email", set()),
        ("Here is how I plan a week of content in one hour.", None, set()),
        ("Risk-free trial, only 3 spots left!", None, {"absolute_guarantee", "urgency_claim"}),
    ],
)
def test_check_compliance_reports_exactly_what_the_rules_match(
    make_ctx: ContextFactory, text: str, channel: str | None, rules: set[str]
) -> None:
    args = {"text": text} | ({"channel": channel} if channel else {})
    data = ok(make_ctx(Role.AGENT), "check_compliance", **args)
    assert {f["rule"] for f in data["findings"]} == rules
    if not rules:
        assert data["summary"].startswith("No issues found")


def test_list_integrations_reports_all_fourteen_providers(make_ctx: ContextFactory) -> None:
    assert tuple(entry.name for entry in PROVIDERS) == PROVIDER_NAMES
    data = ok(make_ctx(Role.CREATOR), "list_integrations")
    assert [(r["name"], r["mode"]) for r in data["integrations"]] == [(n, "local") for n in PROVIDER_NAMES]
    assert data["summary"].startswith("Live: none.")


def _stored_file(ctx: ToolContext, url: str) -> Path:
    """The local media file behind a URL the platform issued (<public URL>/one/media/<key>)."""
    public = f"{ctx.providers.public_url}/one/media/"
    assert url.startswith(public), url
    path = ctx.providers.get("aws").root / unquote(urlparse(url).path.removeprefix(urlparse(public).path))
    assert path.is_file(), url
    return path


def test_generate_speech_uses_the_clones_voice_and_stores_a_media_asset(
    make_ctx: ContextFactory, world: World, store: Store
) -> None:
    creator = make_ctx(Role.CREATOR)
    with store.unit_of_work() as uow:  # the premade default voice exists in every ElevenLabs account
        uow.records.put("elevenlabs", "voice", DEFAULT_VOICE_ID, {"name": "Rachel", "deleted": False})
        uow.commit()
    plain = ok(creator, "generate_speech", text="Welcome to the Inner Circle!")
    assert "default voice" in plain["voice"] and _stored_file(creator, plain["url"]).read_bytes()[:4] == b"RIFF"

    voice_id = creator.providers.get("elevenlabs").clone_voice("Ava", [b"sample-audio"])
    with store.unit_of_work() as uow:
        clone = uow.entities.insert("ai_clone", "Ava clone", {"voiceId": voice_id, "voiceProvider": "elevenlabs"})
        uow.connections.insert(clone.id, world.creator.id, "clone_of")
        uow.commit()
    data = ok(make_ctx(Role.AGENT), "generate_speech", text="Thanks for joining, Sam!")
    assert "cloned voice" in data["voice"] and data["url"] in data["summary"]
    with store.unit_of_work() as uow:
        asset = uow.entities.get(data["media_asset_id"])
        owners = uow.connections.query(to_id=asset.id, type="owns")
    assert asset.properties["voiceId"] == voice_id and asset.properties["url"] == data["url"]
    assert asset.properties["sizeBytes"] == _stored_file(creator, data["url"]).stat().st_size
    assert [c.from_entity for c in owners] == [world.creator.id]
    before = row_counts(store)
    for paid in ({"name": "generate_speech", "args": {"text": "Say I owe you $500"}},
                 {"name": "generate_image", "args": {"prompt": "a cat"}}):  # fmt: skip
        forged = execute({**paid, "id": "forged"}, make_ctx(Role.FAN), granted={paid["name"]})
        assert forged.status == "error" and str(forged.content).startswith("refused:")  # vendor calls: never a fan's
    assert row_counts(store) == before
    too_long = call(make_ctx(Role.AGENT), "generate_speech", text="la " * 2000)
    assert str(too_long.content).startswith("error:") and "at most 5000" in str(too_long.content)


def test_generate_image_stores_the_image_as_a_media_asset(make_ctx: ContextFactory, world: World, store: Store) -> None:
    agent = make_ctx(Role.AGENT)
    data = ok(agent, "generate_image", prompt="A calm desk at sunrise, flat illustration")
    assert data["placeholder"] is True and "placeholder" in data["summary"]
    assert _stored_file(agent, data["url"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with store.unit_of_work() as uow:
        asset = uow.entities.get(data["media_asset_id"])
        authors = uow.connections.query(from_id=asset.id, type="created_by")
    assert asset.type == "media_asset" and asset.properties["contentType"] == "image/png"
    assert [(c.to_entity, c.metadata["by"]) for c in authors] == [(world.agent.id, "ai")]
