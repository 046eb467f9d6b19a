"""Slack: the creator's commands (`/one`, mentions, DMs) and approval cards, on slack-bolt.

The only package in ONE that imports slack_bolt / slack_sdk.
"""

from bots.slack.adapter import ApprovalDecider, CommandReceiver, SlackAdapter
from bots.slack.cards import approval_card, decided_card, to_mrkdwn, validate_blocks
from bots.slack.sender import SlackSender

__all__ = [
    "ApprovalDecider",
    "CommandReceiver",
    "SlackAdapter",
    "SlackSender",
    "approval_card",
    "decided_card",
    "to_mrkdwn",
    "validate_blocks",
]
