"""The fake Bot API answers python-telegram-bot like Telegram does (so adapter tests mean something)."""

from __future__ import annotations

import pytest
from telegram import Bot
from telegram.error import BadRequest, RetryAfter

from tests.bots.fakes.telegram_api import FakeTelegramApi, telegram_html_error


async def test_updates_are_kept_until_a_later_offset_confirms_them() -> None:
    with FakeTelegramApi() as fake:
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            assert (await bot.get_me()).username == "one_test_bot"
            first = fake.push_message(42, 42, "hi")
            fake.push_message(42, 42, "again")
            assert [u.message.text for u in await bot.get_updates(timeout=1)] == ["hi", "again"]
            assert [u.message.text for u in await bot.get_updates(offset=first + 1)] == ["again"]
            assert await bot.get_updates(offset=first + 2) == ()


async def test_send_message_is_checked_like_telegram() -> None:
    with FakeTelegramApi(per_second=3) as fake:
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            await bot.send_message(42, "<b>hello</b> &amp; bye", parse_mode="HTML")
            with pytest.raises(BadRequest, match="parse entities"):
                await bot.send_message(42, "<b>unclosed", parse_mode="HTML")
            with pytest.raises(BadRequest, match="too long"):
                await bot.send_message(42, "x" * 4097)
            with pytest.raises(RetryAfter):
                await bot.send_message(42, "over the limit")
            fake.fail_next("sendMessage", status=403)
    assert fake.sent_to(42) == ["<b>hello</b> &amp; bye"] and fake.http_429 == 1


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("<b>x</b>", True),
        ("a &lt; b", True),
        ("a < b", False),
        ("<script>x</script>", False),
        ("AT&T", False),
        ('<a href="https://x.y">x</a>', True),
        ('<pre><code class="language-py">x</code></pre>', True),
    ],
)
def test_html_checks(text: str, ok: bool) -> None:
    assert (telegram_html_error(text)[0] is None) is ok


def test_stats_for_benches_in_other_processes() -> None:
    import httpx

    with FakeTelegramApi() as fake:
        fake.sent.extend([{"chat_id": 1, "text": "x", "at": 1.0}, {"chat_id": 1, "text": "x", "at": 2.0}])
        root = fake.base_url.removesuffix("/bot")
        stats = httpx.get(f"{root}/_fake/stats").json()
        assert stats["sent"] == 2 and stats["duplicates"] == 1 and stats["http_429"] == 0
        assert len(httpx.get(f"{root}/_fake/sent").json()) == 2
