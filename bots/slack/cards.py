"""Block Kit for approval cards, and Markdown -> Slack mrkdwn for text messages.

An agent's action that needs the creator's approval is queued as an outbox row `kind="card"` with
`extras={"approvalId", "action", "summary"}`; it becomes a card with Approve / Reject buttons
(`action_id` `one_approve` / `one_reject`, `value` = the approval id). The decision comes back as a
`kind="card_update"` row (`extras={"approvalId", "status", "result", "card"}`): the same card with
its buttons replaced by who decided and what came of it.

A money action needs the creator's one-time code too (step-up): its card says so (`extras["stepUp"]`),
and pressing Approve sends the code and turns the card (a `card_update` row with status
`awaiting_code`, `via`, `to`) into "a code was sent to your phone; reply `/one confirm <id> <code>`",
with "Send a new code" and Reject buttons. The code itself never appears on a card.
"""

from __future__ import annotations

import re
from typing import Any

from ontology import InvalidInput

__all__ = [
    "APPROVE_ACTION",
    "MAX_BLOCKS",
    "MAX_SECTION_TEXT",
    "REJECT_ACTION",
    "approval_card",
    "card_fallback_text",
    "code_sent_card",
    "decided_card",
    "escape",
    "from_slack_text",
    "to_mrkdwn",
    "validate_blocks",
]

APPROVE_ACTION = "one_approve"
REJECT_ACTION = "one_reject"

# Slack's Block Kit limits (https://api.slack.com/reference/block-kit)
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_CONTEXT_ELEMENTS = 10
MAX_CONTEXT_TEXT = 2000
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255
MAX_ACTIONS_ELEMENTS = 25
MAX_CONFIRM_TITLE = 100
MAX_CONFIRM_TEXT = 300

_STATUS_TEXT = {
    "approved": ":white_check_mark: Approved by {by}",
    "executed": ":white_check_mark: Approved by {by}",
    "failed": ":warning: Approved by {by}, but it failed",
    "rejected": ":no_entry_sign: Rejected by {by}",
}


def escape(text: str) -> str:
    """Escape the three characters Slack's text formats reserve (&, <, >)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fit(text: str, limit: int) -> str:
    """`text` escaped, shortened (with an ellipsis) until it fits `limit` characters."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    cut = limit - 1
    while (overflow := len(escape(text[:cut])) - (limit - 1)) > 0:
        cut -= overflow  # each character escapes to one or more: never cuts more than needed by much
    return escape(text[:cut]) + "…"


def _by(decided_by: str | None) -> str:
    if not decided_by:
        return "the creator"
    platform, _, account = decided_by.partition(":")
    if platform == "slack" and account:
        return f"<@{escape(account)}>"
    return escape(account or decided_by)


def approval_card(extras: dict[str, Any]) -> list[dict[str, Any]]:
    """The card for an approval request (`extras` of a `card` outbox row): the summary, the action,
    and Approve / Reject (with a confirm dialog) buttons carrying the approval id."""
    approval_id = str(extras.get("approvalId") or "")
    if not approval_id:
        raise InvalidInput("an approval card needs its approvalId")
    blocks = [
        *_summary_blocks(extras),
        {
            "type": "actions",
            "block_id": f"approval:{approval_id}"[:MAX_ACTION_ID],
            "elements": [
                {
                    "type": "button",
                    "action_id": APPROVE_ACTION,
                    "text": {"type": "plain_text", "text": "Approve"},
                    "style": "primary",
                    "value": approval_id,
                },
                {
                    "type": "button",
                    "action_id": REJECT_ACTION,
                    "text": {"type": "plain_text", "text": "Reject"},
                    "style": "danger",
                    "value": approval_id,
                    "confirm": {
                        "title": {"type": "plain_text", "text": "Reject this action?"},
                        "text": {"type": "plain_text", "text": "The agent will not do it."},
                        "confirm": {"type": "plain_text", "text": "Reject"},
                        "deny": {"type": "plain_text", "text": "Keep it"},
                        "style": "danger",
                    },
                },
            ],
        },
    ]
    validate_blocks(blocks)
    return blocks


def _reject_button(approval_id: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": REJECT_ACTION,
        "text": {"type": "plain_text", "text": "Reject"},
        "style": "danger",
        "value": approval_id,
        "confirm": {
            "title": {"type": "plain_text", "text": "Reject this action?"},
            "text": {"type": "plain_text", "text": "The agent will not do it."},
            "confirm": {"type": "plain_text", "text": "Reject"},
            "deny": {"type": "plain_text", "text": "Keep it"},
            "style": "danger",
        },
    }


def code_sent_card(card_extras: dict[str, Any], update_extras: dict[str, Any]) -> list[dict[str, Any]]:
    """The card of a step-up action once its code was sent: where it went, how to confirm, and buttons
    to send a new code or reject."""
    approval_id = str(update_extras.get("approvalId") or card_extras.get("approvalId") or "")
    if not approval_id:
        raise InvalidInput("a step-up card needs its approvalId")
    where = "phone" if update_extras.get("via") == "sms" else "email"
    to = escape(str(update_extras.get("to") or ""))
    local = " _(local mode: kept on this machine, not really sent)_" if update_extras.get("local") else ""
    text = (
        f":lock: A one-time code was sent to your {where}{f' ({to})' if to else ''}{local}. "
        f"To approve, reply `/one confirm {escape(approval_id)} <code>` "
        f"(it expires in {int(update_extras.get('minutes') or 10)} minutes)."
    )
    blocks = [
        *_summary_blocks(card_extras),
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {
            "type": "actions",
            "block_id": f"approval:{approval_id}"[:MAX_ACTION_ID],
            "elements": [
                {
                    "type": "button",
                    "action_id": APPROVE_ACTION,
                    "text": {"type": "plain_text", "text": "Send a new code"},
                    "value": approval_id,
                },
                _reject_button(approval_id),
            ],
        },
    ]
    validate_blocks(blocks)
    return blocks


def decided_card(
    card_extras: dict[str, Any], update_extras: dict[str, Any], *, decided_by: str | None = None
) -> list[dict[str, Any]]:
    """The card after the decision: the same summary, the buttons replaced by "Approved by … — result"
    or "Rejected by …". `decided_by` is the approval's `decided_by` ("slack:U123", "web:..."), when known."""
    status = str(update_extras.get("status") or "")
    line = _STATUS_TEXT.get(status, ":information_source: " + escape(status or "decided") + " by {by}")
    line = line.format(by=_by(decided_by or update_extras.get("by") or update_extras.get("decidedBy")))
    result = str(update_extras.get("result") or "").strip()
    text = f"{line} — {escape(result)}" if result and status != "rejected" else line
    if len(text) > MAX_SECTION_TEXT:
        text = line + " — " + _fit(result, MAX_SECTION_TEXT - len(line) - 3)
    blocks = [*_summary_blocks(card_extras), {"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    validate_blocks(blocks)
    return blocks


def card_fallback_text(extras: dict[str, Any]) -> str:
    """The plain text shown in notifications (and by clients that cannot show blocks)."""
    summary = str(extras.get("summary") or "").strip()
    action = str(extras.get("action") or "an action")
    return f"Approval needed ({action}): {summary}"[:MAX_SECTION_TEXT] if summary else f"Approval needed: {action}"


def _summary_blocks(extras: dict[str, Any]) -> list[dict[str, Any]]:
    summary = str(extras.get("summary") or "").strip() or "(no summary)"
    action = str(extras.get("action") or "").strip() or "an action"
    waits = "your approval and a one-time code sent to you" if extras.get("stepUp") else "your approval"
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": _fit(summary, MAX_SECTION_TEXT)}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _fit(f"Action: {action} — waits for {waits}", 300)}],
        },
    ]


def validate_blocks(blocks: list[dict[str, Any]]) -> None:
    """Check `blocks` against Slack's limits for the block types ONE sends; InvalidInput if not."""
    if not 0 < len(blocks) <= MAX_BLOCKS:
        raise InvalidInput(f"a message takes 1 to {MAX_BLOCKS} blocks, not {len(blocks)}")
    for index, block in enumerate(blocks):
        kind = block.get("type")
        where = f"block {index} ({kind})"
        if kind == "section":
            _check_text(block.get("text"), MAX_SECTION_TEXT, where)
        elif kind == "context":
            elements = block.get("elements") or []
            if not 0 < len(elements) <= MAX_CONTEXT_ELEMENTS:
                raise InvalidInput(f"{where}: 1 to {MAX_CONTEXT_ELEMENTS} elements")
            for element in elements:
                _check_text(element, MAX_CONTEXT_TEXT, where)
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 0 < len(elements) <= MAX_ACTIONS_ELEMENTS:
                raise InvalidInput(f"{where}: 1 to {MAX_ACTIONS_ELEMENTS} elements")
            for element in elements:
                if element.get("type") != "button":
                    raise InvalidInput(f"{where}: only buttons are sent")
                _check_text(element.get("text"), MAX_BUTTON_TEXT, where, plain=True)
                if not 0 < len(str(element.get("action_id") or "")) <= MAX_ACTION_ID:
                    raise InvalidInput(f"{where}: a button needs an action_id of at most {MAX_ACTION_ID} chars")
                if len(str(element.get("value") or "")) > MAX_BUTTON_VALUE:
                    raise InvalidInput(f"{where}: a button value is at most {MAX_BUTTON_VALUE} chars")
                if element.get("style") not in (None, "primary", "danger"):
                    raise InvalidInput(f"{where}: button style is primary or danger")
                confirm = element.get("confirm")
                if confirm is not None:
                    _check_text(confirm.get("title"), MAX_CONFIRM_TITLE, where, plain=True)
                    _check_text(confirm.get("text"), MAX_CONFIRM_TEXT, where)
                    _check_text(confirm.get("confirm"), 30, where, plain=True)
                    _check_text(confirm.get("deny"), 30, where, plain=True)
        else:
            raise InvalidInput(f"{where}: not a block type ONE sends")


def _check_text(obj: Any, limit: int, where: str, *, plain: bool = False) -> None:
    if not isinstance(obj, dict) or obj.get("type") not in (("plain_text",) if plain else ("plain_text", "mrkdwn")):
        raise InvalidInput(f"{where}: a {'plain_text' if plain else 'text'} object is required")
    text = obj.get("text")
    if not isinstance(text, str) or not 0 < len(text) <= limit:
        raise InvalidInput(f"{where}: text must be 1 to {limit} characters")


# --- Markdown -> mrkdwn ---------------------------------------------------------------------------

_FENCE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]+`")
_LINK = re.compile(r"\[([^\]\n]+)\]\((<?)([^()\s<>]+(?:\([^()\s]*\))?[^()\s<>]*)(>?)\)")
_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_BULLET = re.compile(r"^([ \t]*)[*+-][ \t]+", re.MULTILINE)
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.DOTALL)
_ITALIC = re.compile(r"(?<![*\w])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![*\w])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_BOLD_MARK = "\x02"


def to_mrkdwn(markdown: str) -> str:
    """Markdown as the clone writes it -> Slack mrkdwn: `**b**` -> `*b*`, `*i*` -> `_i_`, `~~s~~` ->
    `~s~`, `[t](u)` -> `<u|t>`, headings bold, bullets •; & < > escaped; code left as written."""
    kept: list[str] = []

    def keep(piece: str) -> str:
        kept.append(piece)
        return f"\x00{len(kept) - 1}\x00"

    text = markdown.replace("\x00", "").replace(_BOLD_MARK, "")
    text = _FENCE.sub(lambda m: keep(_fence(m.group(0))), text)
    text = _INLINE_CODE.sub(lambda m: keep(escape(m.group(0))), text)
    text = _LINK.sub(lambda m: keep(_link(m.group(1), m.group(3))), text)
    text = escape(text)
    text = _HEADING.sub(lambda m: f"{_BOLD_MARK}{m.group(1)}{_BOLD_MARK}", text)
    text = _BULLET.sub(lambda m: f"{m.group(1)}• ", text)
    text = _BOLD.sub(lambda m: f"{_BOLD_MARK}{m.group(2)}{_BOLD_MARK}", text)
    text = _ITALIC.sub(lambda m: f"_{m.group(1)}_", text)
    text = _STRIKE.sub(lambda m: f"~{m.group(1)}~", text)
    text = text.replace(_BOLD_MARK, "*")
    return re.sub("\x00(\\d+)\x00", lambda m: kept[int(m.group(1))], text)


def _fence(block: str) -> str:
    body = block[3:-3] if block.endswith("```") and len(block) >= 6 else block[3:]
    first, newline, rest = body.partition("\n")
    if newline and re.fullmatch(r"[\w+#.-]*", first.strip()):
        body = rest  # Slack shows no language tag: drop it
    return "```" + escape(body) + "```"


def _link(label: str, url: str) -> str:
    label = label.replace("|", "¦")
    return f"<{escape(url)}|{escape(label)}>"


# --- what people write in Slack -> plain text -------------------------------------------------------

_SLACK_TOKEN = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def from_slack_text(text: str) -> str:
    """Text of a Slack message or command as plain text: `<@U1>` -> `@U1`, `<#C1|general>` ->
    `#general`, `<!here>` -> `@here`, `<https://x|label>` -> `label (https://x)`, `<https://x>` ->
    `https://x`, `<mailto:a@b|a@b>` -> `a@b`; then &amp; &lt; &gt; unescaped."""

    def plain(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("@"):
            return "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^")[0])
        if target.startswith("mailto:"):
            return label or target[len("mailto:") :]
        if label and label != target and label not in target:
            return f"{label} ({target})"
        return target

    return _SLACK_TOKEN.sub(plain, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
