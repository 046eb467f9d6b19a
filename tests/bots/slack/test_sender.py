"""SlackSender delivers outbox rows to (a fake of) Slack's Web API through slack_sdk and turns its
errors into the DeliveryError tree."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from bots.platform import PermanentDeliveryError, PlatformSender, RetryAfter, TransientDeliveryError
from bots.slack import SlackSender
from bots.slack.sender import make_web_client
from ontology import Store
from ontology.records import OutboxMessage
from tests.bots.fakes.slack_api import FakeSlackApi


@pytest.fixture
async def sender(slack_api: FakeSlackApi, store: Store) -> AsyncIterator[SlackSender]:
    yield SlackSender(make_web_client("xoxb-test", slack_api.base_url), store)


def queue(store: Store, text: str = "", *, chat: str = "C0CHAN", **values: Any) -> OutboxMessage:
    with store.unit_of_work() as uow:
        row = uow.outbox.add(f"test-{uuid.uuid4()}", "slack", chat, text, **values)
        uow.commit()
    assert row is not None
    return row


def test_the_sender_is_a_platform_sender(sender: SlackSender) -> None:
    sender_as_protocol: PlatformSender = sender
    assert sender_as_protocol.platform == "slack"
    assert sender.limits.per_chat_per_second == 1.0
    assert sender.dedupes_resends is False


async def test_a_reply_is_posted_in_its_thread_as_mrkdwn(
    sender: SlackSender, store: Store, slack_api: FakeSlackApi
) -> None:
    row = queue(store, "**Done**: see [the draft](https://x.test/d) & reply", thread="1700000100.000100")

    ts = await sender.send(row)

    [posted] = slack_api.posted
    assert ts == posted["ts"]
    assert posted["channel"] == "C0CHAN"
    assert posted["thread_ts"] == "1700000100.000100"
    assert posted["text"] == "*Done*: see <https://x.test/d|the draft> &amp; reply"


async def test_a_message_outside_a_thread_has_no_thread(
    sender: SlackSender, store: Store, slack_api: FakeSlackApi
) -> None:
    await sender.send(queue(store, "hello"))

    assert slack_api.posted[0]["thread_ts"] is None


async def test_a_dm_row_opens_the_conversation_once(sender: SlackSender, store: Store, slack_api: FakeSlackApi) -> None:
    await sender.send(queue(store, "one", chat="dm:U0FAN"))
    await sender.send(queue(store, "two", chat="dm:U0FAN"))

    assert [p["channel"] for p in slack_api.posted] == ["D0FAN", "D0FAN"]
    assert len(slack_api.calls_of("conversations.open")) == 1


async def test_a_card_is_posted_as_block_kit_with_the_summary_as_fallback(
    sender: SlackSender, store: Store, slack_api: FakeSlackApi
) -> None:
    approval = str(uuid.uuid4())
    extras = {"approvalId": approval, "action": "publish_content", "summary": "Publish 'Spring plan' to the blog"}
    row = queue(store, kind="card", extras=extras, thread="1700000100.000100")

    ts = await sender.send(row)

    [posted] = slack_api.posted
    assert ts == posted["ts"] and posted["thread_ts"] == "1700000100.000100"
    assert "Publish 'Spring plan' to the blog" in posted["text"]
    values = [e["value"] for b in posted["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert values == [approval, approval]


async def test_a_card_update_edits_the_posted_card(sender: SlackSender, store: Store, slack_api: FakeSlackApi) -> None:
    with store.unit_of_work() as uow:
        creator = uow.entities.insert("creator", "Card Owner", {})
        approval = uow.approvals.add(creator.id, "broadcast_message", {"text": "hi"}, "Send 'hi' to 12 fans")
        uow.approvals.decide(approval.id, approve=True, by="slack:UCREATOR")
        uow.commit()
    extras = {"approvalId": str(approval.id), "action": "broadcast_message", "summary": "Send 'hi' to 12 fans"}
    card = queue(store, kind="card", extras=extras)
    card_ts = await sender.send(card)
    with store.unit_of_work() as uow:
        uow.outbox.delivered(card.id, card_ts)
        uow.commit()
    update = queue(
        store,
        kind="card_update",
        extras={"approvalId": str(approval.id), "status": "executed", "result": "sent to 12 fans", "card": card.key},
    )

    ts = await sender.send(update)

    assert ts == card_ts
    [updated] = slack_api.updated
    assert (updated["channel"], updated["ts"]) == ("C0CHAN", card_ts)
    assert [b for b in updated["blocks"] if b["type"] == "actions"] == []
    assert "Approved by <@UCREATOR> — sent to 12 fans" in updated["blocks"][-1]["text"]["text"]
    assert len(slack_api.posted) == 1  # no new message
    notice = queue(store, "Approved: **sent**", kind="notice", extras={"approvalId": "x", "card": card.key})

    await sender.send(notice)

    assert slack_api.posted[-1]["thread_ts"] == card_ts  # the result goes under its card
    assert slack_api.posted[-1]["text"] == "Approved: *sent*"


async def test_a_card_update_before_the_card_is_posted_waits(sender: SlackSender, store: Store) -> None:
    card = queue(store, kind="card", extras={"approvalId": str(uuid.uuid4()), "action": "a", "summary": "s"})
    update = queue(store, kind="card_update", extras={"approvalId": "x", "status": "rejected", "card": card.key})

    with pytest.raises(TransientDeliveryError):
        await sender.send(update)


async def test_a_429_becomes_retry_after_for_this_channel(
    sender: SlackSender, store: Store, slack_api: FakeSlackApi
) -> None:
    slack_api.fail_next("chat.postMessage", status=429, retry_after=7)

    with pytest.raises(RetryAfter) as caught:
        await sender.send(queue(store, "hello"))

    assert caught.value.seconds == 7
    assert caught.value.everywhere is False
    assert isinstance(caught.value.__cause__, SlackApiError)
    assert slack_api.posted == []


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "is_archived", "invalid_auth"])
async def test_refusals_are_permanent(sender: SlackSender, store: Store, slack_api: FakeSlackApi, error: str) -> None:
    slack_api.fail_next("chat.postMessage", status=200, error=error)

    with pytest.raises(PermanentDeliveryError, match=error) as caught:
        await sender.send(queue(store, "hello"))

    assert isinstance(caught.value.__cause__, SlackApiError)


async def test_a_wrong_token_is_permanent(slack_api: FakeSlackApi, store: Store) -> None:
    sender = SlackSender(make_web_client("xoxb-revoked", slack_api.base_url), store)

    with pytest.raises(PermanentDeliveryError, match="invalid_auth"):
        await sender.send(queue(store, "hello"))


async def test_a_server_error_is_transient_and_not_retried_by_the_sdk(
    sender: SlackSender, store: Store, slack_api: FakeSlackApi
) -> None:
    slack_api.fail_next("chat.postMessage", status=500)

    with pytest.raises(TransientDeliveryError) as caught:
        await sender.send(queue(store, "hello"))

    assert caught.value.maybe_delivered is True  # a 5xx after a POST proves nothing
    assert len(slack_api.calls_of("chat.postMessage")) == 1  # our outbox retries, not the SDK


async def test_an_unreachable_slack_is_transient_and_surely_not_delivered(store: Store) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = SlackSender(make_web_client("xoxb-test", f"http://127.0.0.1:{port}/api/"), store)

    with pytest.raises(TransientDeliveryError) as caught:
        await sender.send(queue(store, "hello"))

    assert caught.value.maybe_delivered is False
    assert caught.value.__cause__ is not None


async def test_no_answer_in_time_is_transient_and_maybe_delivered(slack_api: FakeSlackApi, store: Store) -> None:
    sender = SlackSender(make_web_client("xoxb-test", slack_api.base_url, timeout=1), store)
    slack_api.delay_next("chat.postMessage", 1.5)

    with pytest.raises(TransientDeliveryError) as caught:
        await sender.send(queue(store, "hello"))

    assert caught.value.maybe_delivered is True  # Slack may have posted it before the answer was lost
