"""Approval cards render valid Block Kit within Slack's limits; Markdown becomes mrkdwn."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from bots.slack import approval_card, decided_card, to_mrkdwn, validate_blocks
from bots.slack.cards import MAX_BLOCKS, MAX_SECTION_TEXT, from_slack_text
from ontology import InvalidInput

APPROVAL = str(uuid.uuid4())
CARD = {"approvalId": APPROVAL, "action": "broadcast_message", "summary": "Send *Spring sale* to 1,204 fans"}


def _buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_an_approval_card_shows_the_summary_the_action_and_two_buttons() -> None:
    blocks = approval_card(CARD)

    validate_blocks(blocks)
    assert blocks[0] == {"type": "section", "text": {"type": "mrkdwn", "text": CARD["summary"]}}
    assert "broadcast_message" in blocks[1]["elements"][0]["text"]
    approve, reject = _buttons(blocks)
    assert (approve["action_id"], approve["style"], approve["value"]) == ("one_approve", "primary", APPROVAL)
    assert (reject["action_id"], reject["style"], reject["value"]) == ("one_reject", "danger", APPROVAL)
    assert "confirm" in reject and "confirm" not in approve


def test_a_long_summary_is_cut_to_slacks_section_limit_after_escaping() -> None:
    blocks = approval_card({**CARD, "summary": "R&D <budget> " * 400})

    text = blocks[0]["text"]["text"]
    assert len(text) <= MAX_SECTION_TEXT
    assert text.endswith("…") and "&amp;" in text and "<" not in text
    assert "&am…" not in text and "&a…" not in text  # no entity cut in half


def test_a_card_without_an_approval_id_is_refused() -> None:
    with pytest.raises(InvalidInput):
        approval_card({"action": "broadcast_message", "summary": "x"})


def test_the_decided_card_replaces_the_buttons_with_who_decided_and_the_result() -> None:
    update = {"approvalId": APPROVAL, "status": "executed", "result": "sent to 1,204 fans", "card": "k"}
    blocks = decided_card(CARD, update, decided_by="slack:UCREATOR")

    validate_blocks(blocks)
    assert _buttons(blocks) == []
    assert blocks[0]["text"]["text"] == CARD["summary"]
    assert blocks[-1]["text"]["text"].endswith("Approved by <@UCREATOR> — sent to 1,204 fans")


def test_the_rejected_card_says_rejected() -> None:
    update = {"approvalId": APPROVAL, "status": "rejected", "result": "", "card": "k"}
    blocks = decided_card(CARD, update, decided_by="slack:UTEAM")

    assert _buttons(blocks) == []
    assert "Rejected by <@UTEAM>" in blocks[-1]["text"]["text"]


def test_a_failed_action_says_so() -> None:
    update = {"approvalId": APPROVAL, "status": "failed", "result": "the mail provider is down", "card": "k"}
    text = decided_card(CARD, update, decided_by="web:owner")[-1]["text"]["text"]

    assert "failed" in text and "owner" in text and "the mail provider is down" in text


@pytest.mark.parametrize(
    "blocks",
    [
        [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * (MAX_BLOCKS + 1),
        [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * (MAX_SECTION_TEXT + 1)}}],
        [{"type": "section", "text": {"type": "mrkdwn", "text": ""}}],
        [],
        [{"type": "actions", "elements": [{"type": "button", "text": {"type": "mrkdwn", "text": "Go"}}]}],
        [{"type": "video"}],
    ],
    ids=["51-blocks", "3001-chars", "empty-text", "no-blocks", "mrkdwn-button", "unknown-block"],
)
def test_blocks_beyond_slacks_limits_are_refused(blocks: list[dict[str, Any]]) -> None:
    with pytest.raises(InvalidInput):
        validate_blocks(blocks)


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**bold** and __also__", "*bold* and *also*"),
        ("*italic* and _this_", "_italic_ and _this_"),
        ("~~gone~~", "~gone~"),
        ("see [the plan](https://x.test/p?a=1&b=2)", "see <https://x.test/p?a=1&amp;b=2|the plan>"),
        ("**[bold link](https://x.test)**", "*<https://x.test|bold link>*"),
        ("Q&A <soon> 5 > 3", "Q&amp;A &lt;soon&gt; 5 &gt; 3"),
        ("# Plan\n- one\n* two", "*Plan*\n• one\n• two"),
        ("`**not bold** & <x>`", "`**not bold** &amp; &lt;x&gt;`"),
        ("```python\nif a < b: **x**\n```", "```if a &lt; b: **x**\n```"),
        ("2 * 3 * 4", "2 * 3 * 4"),
        ("<@U123> hi", "&lt;@U123&gt; hi"),  # no mentions smuggled in by the model
    ],
)
def test_markdown_becomes_slack_mrkdwn(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown) == mrkdwn


@pytest.mark.parametrize(
    ("slack", "plain"),
    [
        ("Q&amp;A &lt;draft&gt;", "Q&A <draft>"),
        ("ask <@U123> in <#C9|general>, <!here>", "ask @U123 in #general, @here"),
        ("see <https://x.test/a?b=1&amp;c=2>", "see https://x.test/a?b=1&c=2"),
        ("see <https://x.test|the plan>", "see the plan (https://x.test)"),
        ("<https://x.test|x.test>", "https://x.test"),
        ("mail <mailto:a@b.test|a@b.test>", "mail a@b.test"),
    ],
)
def test_what_people_write_in_slack_becomes_plain_text(slack: str, plain: str) -> None:
    assert from_slack_text(slack) == plain
