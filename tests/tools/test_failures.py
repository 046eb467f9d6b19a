"""Every tool failure is a tool error the model can answer from, logged with its cause, never an
exception out of `execute`: a provider that cannot be reached, a database that refuses the work,
a timeout, a bug. And every result fits its token budget, JSON staying JSON."""

from __future__ import annotations

import json
import logging
import socket
from typing import Any

import pytest

from ontology import ConstraintViolation, KnowledgeBase, Store
from ontology.database import make_engine
from providers.retry import RetryPolicy
from providers.stripe import LiveStripe
from tests.tools.conftest import ContextFactory, World, call
from tools import Role, ToolContext, execute
from tools._budget import cap_tokens, count_text_tokens

pytestmark = pytest.mark.timeout(120)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends: nothing listens there


class ProvidersWith:
    """A provider source that serves one given provider and the real local ones otherwise."""

    def __init__(self, real: Any, name: str, provider: Any) -> None:
        self.real, self.name, self.provider = real, name, provider

    def get(self, name: str) -> Any:
        return self.provider if name == self.name else self.real.get(name)

    def mode(self, name: str) -> str:
        return "live" if name == self.name else str(self.real.mode(name))

    @property
    def public_url(self) -> str:
        return str(self.real.public_url)


class FailingStripe:
    """A local fake of the Stripe provider whose checkout raises what it is given."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def create_checkout_session(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error


def fan_ctx(make_ctx: ContextFactory, stripe: Any) -> ToolContext:
    base = make_ctx(Role.FAN)
    return ToolContext(base.principal, base.store, base.knowledge, ProvidersWith(base.providers, "stripe", stripe))


def assert_honest_failure(message: Any, name: str) -> None:
    text = str(message.content)
    assert message.status == "error" and text.startswith(f"error: {name} failed just now"), text
    assert "try again in a minute" in text and "Traceback" not in text


def test_an_unreachable_provider_is_a_tool_error_with_its_cause_logged(
    make_ctx: ContextFactory, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    stripe = LiveStripe(
        "sk_test_closed", base_url=f"http://127.0.0.1:{closed_port()}", timeout=2, retry=RetryPolicy(attempts=1)
    )
    with caplog.at_level(logging.WARNING, logger="tools.registry"):
        message = call(fan_ctx(make_ctx, stripe), "create_checkout_link", product_id=str(world.products["playbook"].id))
    assert_honest_failure(message, "create_checkout_link")
    assert "a service it needs is not answering" in str(message.content)
    [record] = [r for r in caplog.records if "create_checkout_link failed" in r.getMessage()]
    assert record.exc_info is not None and "StripeUnavailable" in type(record.exc_info[1]).__name__


@pytest.mark.parametrize(
    "error", [TimeoutError("read timed out"), ConstraintViolation("duplicate key"), RuntimeError("bug in a tool")]
)
def test_timeouts_constraint_violations_and_bugs_are_tool_errors(
    make_ctx: ContextFactory, world: World, error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tools.registry"):
        message = call(
            fan_ctx(make_ctx, FailingStripe(error)), "create_checkout_link", product_id=str(world.products["call"].id)
        )
    assert_honest_failure(message, "create_checkout_link")
    assert str(error) not in str(message.content)  # internal detail goes to the log, not to the model
    assert any(r.exc_info and r.exc_info[1] is error for r in caplog.records)


def test_a_database_that_fails_the_transaction_is_a_tool_error(
    make_ctx: ContextFactory, knowledge: KnowledgeBase, caplog: pytest.LogCaptureFixture
) -> None:
    dead = Store(make_engine(f"postgresql+psycopg://one@127.0.0.1:{closed_port()}/gone", pool_size=1))
    base = make_ctx(Role.FAN)
    ctx = ToolContext(base.principal, dead, KnowledgeBase(dead, knowledge.embedder), base.providers)
    try:
        with caplog.at_level(logging.WARNING, logger="tools.registry"):
            message = call(ctx, "list_products")
    finally:
        dead.dispose()
    assert_honest_failure(message, "list_products")
    assert "a problem on our side" in str(message.content)
    assert any(r.exc_info and type(r.exc_info[1]).__name__ == "TransactionFailed" for r in caplog.records)


def test_a_thousand_products_come_in_pages_that_fit_the_budget_and_skip_none(
    make_ctx: ContextFactory, world: World, store: Store
) -> None:
    with store.unit_of_work() as uow:
        offers = []
        for i in range(1000):
            offers.append(uow.entities.insert("digital_product", f"Template pack {i}", {"price": 100 + i}))
            uow.connections.insert(world.creator.id, offers[-1].id, "owns")
        uow.commit()
    fan = make_ctx(Role.FAN)
    ctx = ToolContext(fan.principal, fan.store, fan.knowledge, fan.providers, result_tokens=600)
    seen: list[str] = []
    after: str | None = None
    while True:
        message = execute({"name": "list_products", "args": {"after": after}, "id": "c1"}, ctx)
        assert message.status != "error" and count_text_tokens(str(message.content)) <= 600
        data = json.loads(str(message.content))  # valid JSON, cut by the tool itself, not by the cap
        assert "truncated" not in data and data["products"] and all(p["formatted_price"] for p in data["products"])
        seen += [p["id"] for p in data["products"]]
        after = data["next_page"]
        if after is None:
            break
    ids = {str(o.id) for o in offers}
    assert len(seen) == len(set(seen)) and ids <= set(seen)  # every offer once: the cursor skips none


def test_capping_plain_text_marks_the_cut() -> None:
    capped = cap_tokens("word " * 5000, 100)
    assert count_text_tokens(capped) <= 100 and "[truncated:" in capped
    assert cap_tokens("short", 100) == "short"
