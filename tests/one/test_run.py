"""`one run` refuses half-configured chat platforms at start-up instead of quietly doing less."""

from __future__ import annotations

from typing import Any

import pytest

from one.bootstrap import NotConfigured
from one.run import check_chat_settings
from one.settings import Settings


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"telegram_webhook_secret": "s"}, "ONE_TELEGRAM_BOT_TOKEN"),
        ({"telegram_bot_token": "1:a", "telegram_webhook_secret": "s"}, "ONE_PUBLIC_URL"),
        ({"slack_bot_token": "xoxb"}, "ONE_SLACK_SIGNING_SECRET"),
        ({"slack_signing_secret": "s"}, "ONE_SLACK_BOT_TOKEN"),
        ({"discord_channel_ids": "1,2"}, "ONE_DISCORD_BOT_TOKEN"),
    ],
)
def test_a_half_configured_platform_is_a_start_up_error(values: dict[str, Any], named: str) -> None:
    with pytest.raises(NotConfigured, match=named):
        check_chat_settings(_settings(**values))


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"telegram_bot_token": "1:a"},
        {"telegram_bot_token": "1:a", "telegram_webhook_secret": "s", "public_url": "https://one.example.com"},
        {"slack_bot_token": "xoxb", "slack_app_token": "xapp"},
        {"discord_bot_token": "d", "discord_channel_ids": "1"},
    ],
)
def test_complete_configurations_start(values: dict[str, Any]) -> None:
    check_chat_settings(_settings(**values))


def test_channel_ids_must_be_numbers() -> None:
    with pytest.raises(ValueError, match="Discord channel ids"):
        _settings(discord_channel_ids="general")


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"discord_bot_token": "d", "discord_member_role_id": 5}, "ONE_DISCORD_GUILD_ID"),
        ({"discord_guild_id": 4, "discord_member_role_id": 5}, "ONE_DISCORD_BOT_TOKEN"),
        ({"telegram_community_chat_id": "-1001"}, "ONE_TELEGRAM_BOT_TOKEN"),
        (
            {"telegram_bot_token": "1:a", "telegram_community_chat_id": "members group"},
            "ONE_TELEGRAM_COMMUNITY_CHAT_ID",
        ),
    ],
)
def test_half_configured_membership_doors_refuse_to_start(values: dict[str, Any], named: str) -> None:
    with pytest.raises(NotConfigured, match=named):
        check_chat_settings(_settings(**values))


@pytest.mark.parametrize(
    "values",
    [
        {"discord_bot_token": "d", "discord_guild_id": 4, "discord_member_role_id": 5},
        {"telegram_bot_token": "1:a", "telegram_community_chat_id": "-1001234567890"},
        {"telegram_bot_token": "1:a", "telegram_community_chat_id": "@members"},
    ],
)
def test_membership_doors_configured_start(values: dict[str, Any]) -> None:
    check_chat_settings(_settings(**values))
