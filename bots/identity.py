"""Who is who on the chat platforms: the creator and their team, and fans as one person across platforms.

A creator's own accounts are `identities` on the creator entity, their team's accounts `team`
(platform -> account ids); only these people may command the creator's agents.

A fan is one `audience_member` whatever platforms they write from. `/link` on one platform issues a
short code (`issue_link_code`); typing it on another (`redeem_link_code`) adds that account to the
same fan, merging the fan that account already had into it: identities, connections, tags and what
the clone remembers about them. `forget_fan` erases a person everywhere (memory, messages, codes,
identities, personal connections), leaving only anonymous events behind.

Codes are stored only as sha256 hashes, last ten minutes, work once, and a new one replaces the
fan's older one. Each platform account may try at most `MAX_LINK_ATTEMPTS` codes per ten minutes
(a right code resets the count), so a code cannot be found by guessing.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver

from graphs.clone_graph import build_clone_graph
from graphs.conversation import thread_id
from graphs.memory import remember_facts
from ontology import Entity, InvalidInput, NotFound, Store, UnitOfWork
from ontology.validation import MAX_LIMIT

__all__ = [
    "FORGOTTEN_NAME",
    "LINK_TTL_SECONDS",
    "MAX_LINK_ATTEMPTS",
    "ForgetReport",
    "add_team_account",
    "forget_fan",
    "is_creator_or_team",
    "issue_link_code",
    "link_creator_account",
    "merge_conversations",
    "normalize_code",
    "redeem_link_code",
    "remove_team_account",
]

log = logging.getLogger(__name__)

LINK_PURPOSE = "link"
GUARD_PURPOSE = "link-attempts"  # one row per platform account counting its tries in the window
LINK_TTL_SECONDS = 600
MAX_LINK_ATTEMPTS = 5  # codes one account may try per LINK_TTL_SECONDS
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # no 0/O, 1/I/L: typed from one phone to another
CODE_LENGTH = 8  # 30^8 ~ 6.6e11: five guesses per ten minutes never find one
FORGOTTEN_NAME = "Forgotten fan"
CHAT_PLATFORMS = ("telegram", "discord", "slack")  # where creators and their team have accounts
# What the business must keep after a fan is forgotten (it then points at an anonymous id): purchases
# and token balances. Every other connection of the fan is personal and removed.
KEPT_WHEN_FORGOTTEN = frozenset({"transacted", "holds_tokens"})
_GUARD_NAMESPACE = uuid.UUID("6f0c3a52-3c1e-4b8e-9d7a-1a2b3c4d5e6f")
_NOT_CODE = re.compile(r"[\s\-_.]+")


def is_creator_or_team(uow: UnitOfWork, creator_id: uuid.UUID, platform: str, account: str) -> bool:
    """Whether (platform, account) is the creator themself or one of their team."""
    try:
        creator = uow.entities.get(creator_id)
    except NotFound:
        return False
    if creator.type != "creator":
        return False
    properties = creator.properties
    if (properties.get("identities") or {}).get(platform) == account:
        return True
    return account in ((properties.get("team") or {}).get(platform) or [])


# --- link codes --------------------------------------------------------------------------------


def normalize_code(code: str) -> str:
    """A typed code as issued: upper case, without spaces or dashes ("abcd-efgh" -> "ABCDEFGH")."""
    return _NOT_CODE.sub("", code or "").upper()


def _hash(code: str, purpose: str = LINK_PURPOSE) -> str:
    return hashlib.sha256(f"{purpose}:{normalize_code(code)}".encode()).hexdigest()


def _shown(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def issue_link_code(store: Store, fan_id: uuid.UUID) -> str:
    """A new one-time code ("ABCD-EFGH") that links another platform account to this fan within ten
    minutes; only its hash is stored, and the fan's older code stops working."""
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    with store.unit_of_work() as uow:
        fan = uow.entities.get(fan_id)
        if fan.type != "audience_member":
            raise InvalidInput(f"{fan_id} is a {fan.type}, not a fan")
        uow.codes.issue(_hash(code), LINK_PURPOSE, ttl_seconds=LINK_TTL_SECONDS, subject_id=fan.id)
        uow.commit()
    return _shown(code)


def _guard_subject(platform: str, account: str) -> uuid.UUID:
    """The id attempts of one platform account are counted under (derived, so no account is stored)."""
    return uuid.uuid5(_GUARD_NAMESPACE, f"{platform}:{account}")


def _count_attempt(store: Store, platform: str, account: str) -> int:
    """Count one code attempt of this account (committed at once: a wrong code must not roll it back);
    returns the attempts in the current ten-minute window, this one included."""
    subject = _guard_subject(platform, account)
    with store.lock(f"link-attempts:{platform}:{account}"), store.unit_of_work() as uow:
        attempts = uow.codes.failed_attempt(GUARD_PURPOSE, subject)
        if attempts == 0:  # no open window: start one
            window = _hash(secrets.token_hex(16), GUARD_PURPOSE)
            uow.codes.issue(window, GUARD_PURPOSE, ttl_seconds=LINK_TTL_SECONDS, subject_id=subject)
            attempts = uow.codes.failed_attempt(GUARD_PURPOSE, subject)
        uow.commit()
    return attempts


def redeem_link_code(
    store: Store,
    checkpointer: BaseCheckpointSaver[Any],
    code: str,
    *,
    creator_id: uuid.UUID,
    platform: str,
    account: str,
    display_name: str | None = None,
) -> Entity:
    """Link (platform, account) to the fan who was given `code` and return that fan.

    If the account already belongs to another fan, that fan is merged into the code's fan in one
    unit of work: identities, connections (re-pointed, never duplicated: token balances add up,
    the furthest enrolment wins), tags and contact properties; the other fan is soft-deleted. Then,
    outside the transaction and idempotently, what each clone remembered about the other fan is
    added to the survivor's thread and the other's threads are deleted. The link is logged as a
    `user_joined` event with `linked` (and `linkedFrom`, the merged fan's id).

    InvalidInput when the code is wrong, used or expired, when this account tried too many codes
    in ten minutes, or when the two fans have different accounts on the same platform (nothing is
    changed then, and the code still works). The fan keeps their name: `display_name` is accepted
    for the dispatcher's call but not used."""
    if _count_attempt(store, platform, account) > MAX_LINK_ATTEMPTS:
        minutes = LINK_TTL_SECONDS // 60
        raise InvalidInput(f"too many link codes tried from this account: wait {minutes} minutes, then try again")
    with store.lock(f"identity:{platform}:{account}"), store.unit_of_work() as uow:
        link = uow.codes.redeem(_hash(code), LINK_PURPOSE)
        try:
            if link.subject_id is None:
                raise NotFound("a link code without a fan")
            survivor = uow.entities.get_for_update(link.subject_id)
        except NotFound:
            raise InvalidInput("that code is not valid anymore: ask for a new one") from None
        try:
            other: Entity | None = uow.entities.by_identity("audience_member", platform, account)
        except NotFound:
            other = None
        if other is not None and other.id == survivor.id:  # this account is already this fan's
            uow.codes.forget_subject(_guard_subject(platform, account))
            uow.commit()
            return survivor
        merged_from = _merge_fans(uow, survivor, other) if other is not None else None
        survivor = uow.entities.get(survivor.id)
        identities = survivor.properties.get("identities") or {}
        if identities.get(platform) not in (None, account):
            raise InvalidInput(
                f"that code belongs to someone with another {platform} account: send /link from that account"
            )
        identities = {**identities, platform: account}
        survivor = uow.entities.update(survivor.id, properties={"identities": identities})
        if not uow.connections.query(from_id=survivor.id, to_id=creator_id, type="following", limit=1):
            uow.connections.insert(survivor.id, creator_id, "following")
        metadata: dict[str, Any] = {"platform": platform, "linked": True}
        if merged_from is not None:
            metadata["linkedFrom"] = str(merged_from)
        uow.events.insert("user_joined", actor_id=survivor.id, target_id=creator_id, metadata=metadata)
        uow.codes.forget_subject(_guard_subject(platform, account))  # a right code resets the count
        clones = _clones_followed_by(uow, survivor.id)
        uow.commit()
    if merged_from is not None:
        merge_conversations(checkpointer, clones, merged_from, survivor.id)
    return survivor


# --- merging two fans --------------------------------------------------------------------------


def _sum_balances(kept: dict[str, Any], moved: dict[str, Any]) -> dict[str, Any]:
    return {key: str(int(kept.get(key, "0")) + int(moved.get(key, "0"))) for key in ("balance", "staked")}


def _furthest(kept: dict[str, Any], moved: dict[str, Any]) -> dict[str, Any]:
    done = "completed" in (kept.get("status"), moved.get("status"))
    progress = max(float(kept.get("progress", 0.0)), float(moved.get("progress", 0.0)))
    return {"status": "completed" if done else "active", "progress": progress}


# How two connections of the same type between the same ends become one when fans merge; a type not
# listed keeps the survivor's connection as it is (following, member_of, transacted to one payment...).
MERGE_RULES: dict[str, Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]] = {
    "holds_tokens": _sum_balances,
    "enrolled_in": _furthest,
}


def _merge_fans(uow: UnitOfWork, survivor: Entity, other: Entity) -> uuid.UUID:
    """Move everything of `other` onto `survivor` in this unit of work and soft-delete `other`."""
    mine = survivor.properties.get("identities") or {}
    theirs = other.properties.get("identities") or {}
    clash = sorted(p for p, a in theirs.items() if mine.get(p) not in (None, a))
    if clash:
        raise InvalidInput(
            f"both accounts already have a different {' and '.join(clash)} account: "
            "they cannot be merged; send /forget from one of them first"
        )
    for direction in ("out", "in"):
        for neighbour in list(uow.entities.iter_neighbours(other.id, direction=direction)):
            _repoint(uow, neighbour.connection, neighbour.entity.id, survivor.id, outgoing=direction == "out")
    for tag in uow.tags.of_entity(other.id):
        uow.tags.add(survivor.id, tag.key, tag.value)
    props = survivor.properties
    update: dict[str, Any] = {"identities": {**theirs, **mine}}
    for key in ("email", "timezone"):
        if not props.get(key) and other.properties.get(key):
            update[key] = other.properties[key]
    if other.properties.get("messagesStopped"):  # they said /stop on one platform: it holds for the person
        update["messagesStopped"] = True
    uow.entities.update(survivor.id, properties=update)
    uow.codes.forget_subject(other.id)
    uow.entities.update(other.id, properties={"identities": {}})
    uow.entities.delete(other.id)
    return other.id


def _repoint(uow: UnitOfWork, connection: Any, far: uuid.UUID, survivor: uuid.UUID, *, outgoing: bool) -> None:
    """Give `connection` the survivor as its end instead of the merged fan, without a duplicate."""
    uow.connections.delete(connection.id)
    if far == survivor:  # a connection between the two fans would point at itself
        return
    source, target = (survivor, far) if outgoing else (far, survivor)
    kind = connection.relationship_type
    existing = uow.connections.query(from_id=source, to_id=target, type=kind, limit=1)
    if existing:
        rule = MERGE_RULES.get(kind)
        if rule is not None:
            uow.connections.update(existing[0].id, metadata=rule(existing[0].metadata, connection.metadata))
        return
    uow.connections.insert(
        source,
        target,
        kind,
        connection.metadata,
        strength=connection.strength,
        valid_from=connection.valid_from,
        valid_to=connection.valid_to,
    )


def _clones_followed_by(uow: UnitOfWork, fan_id: uuid.UUID) -> list[uuid.UUID]:
    """The clones of the creators a fan follows: the clones they can have talked to."""
    clones = []
    for creator in uow.entities.iter_neighbours(fan_id, "following", types={"creator"}):
        clones += [n.entity.id for n in uow.entities.neighbours(creator.entity.id, "clone_of", direction="in")]
    return clones


def merge_conversations(
    checkpointer: BaseCheckpointSaver[Any],
    clone_ids: Iterable[uuid.UUID],
    from_fan: uuid.UUID,
    into_fan: uuid.UUID,
) -> int:
    """Add what each clone remembered about `from_fan` (their facts and hourly tool calls) to its thread
    with `into_fan`, then delete `from_fan`'s threads. A survivor with no thread of its own takes the
    other's conversation whole. Idempotent: run it again after a crash. Returns the threads merged.

    It takes no thread locks: the dispatcher runs /link holding the linking fan's thread lock, and a
    second session asking for it would wait forever. A turn of the survivor running at the very same
    moment may overwrite the merged facts (the next /link or message restores nothing: accepted)."""
    graph = build_clone_graph(checkpointer)
    merged = 0
    for clone in clone_ids:
        source_thread, target_thread = thread_id(clone, from_fan), thread_id(clone, into_fan)
        source_config: RunnableConfig = {"configurable": {"thread_id": source_thread}}
        target_config: RunnableConfig = {"configurable": {"thread_id": target_thread}}
        source = graph.get_state(source_config).values
        if source:
            update = _merged_state(source, graph.get_state(target_config).values)
            if update is not None:
                graph.update_state(target_config, update, as_node="model")
                merged += 1
        checkpointer.delete_thread(source_thread)
    return merged


def _merged_state(source: dict[str, Any], target: dict[str, Any]) -> dict[str, Any] | None:
    """The update that gives the target thread the source thread's memory (None: nothing to write)."""
    if not target.get("messages"):  # the survivor never talked to this clone: the other's conversation is theirs
        messages = list(source.get("messages", []))
        while messages and not (isinstance(messages[-1], AIMessage) and not messages[-1].tool_calls):
            messages.pop()  # end on an answer, so the thread waits for the fan's next message
        if not messages:
            return None
        return {**{k: v for k, v in source.items() if k != "messages"}, "messages": messages}
    summary = source.get("summary", "")
    for line in (target.get("summary") or "").splitlines():  # the survivor's facts win on the same topic
        summary = remember_facts(summary, line)
    calls = sorted({tuple(c) for c in [*source.get("recent_tool_calls", []), *target.get("recent_tool_calls", [])]})
    return {"summary": summary, "recent_tool_calls": [list(c) for c in calls]}


# --- forgetting a person -----------------------------------------------------------------------


@dataclass(frozen=True)
class ForgetReport:
    """What `forget_fan` erased."""

    fan_id: uuid.UUID
    found: bool  # False: no such live fan (unknown, or forgotten before); the cleanup still ran
    threads: int = 0  # clone threads deleted (every clone's thread with the fan is asked to go)
    inbox: int = 0
    outbox: int = 0
    connections: int = 0
    leads: int = 0  # email leads the fan gave, erased


def _every_clone(uow: UnitOfWork) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    while True:
        page = uow.entities.query(type="ai_clone", limit=MAX_LIMIT, after=ids[-1] if ids else None)
        ids += [clone.id for clone in page]
        if len(page) < MAX_LIMIT:
            return ids


def forget_fan(store: Store, checkpointer: BaseCheckpointSaver[Any], fan_id: uuid.UUID) -> ForgetReport:
    """Erase a fan everywhere: their threads with every clone, inbox and outbox rows, codes, identities
    and personal properties (the name becomes "Forgotten fan"), tags, personal connections (all but
    purchases and token holdings), what they own (referral codes...), the email leads they gave;
    then soft-delete them. Events stay,
    pointing at an id that no longer leads to anything personal. Idempotent: forgetting twice is fine,
    and the same account writing again is a new fan with no memory."""
    found = True
    connections = leads = 0
    with store.unit_of_work() as uow:
        try:
            fan = uow.entities.get_for_update(fan_id)
        except NotFound:
            fan, found = None, False
        if fan is not None and fan.type != "audience_member":
            raise InvalidInput(f"{fan_id} is a {fan.type}, not a fan")
        identities = (fan.properties.get("identities") or {}) if fan is not None else {}
        inbox = uow.inbox.forget_sender(fan_id)
        outbox = uow.outbox.forget_recipient(fan_id)
        uow.codes.forget_subject(fan_id)
        for platform, account in identities.items():
            uow.codes.forget_subject(_guard_subject(platform, account))
        if fan is not None:
            connections, leads = _erase_personal_data(uow, fan)
        clones = _every_clone(uow)
        uow.commit()
    threads = 0
    # After the commit (the checkpointer has its own connections), and without thread locks: the
    # dispatcher runs /forget holding this fan's thread lock. No new turn can start for the fan: its
    # identities are gone, so its accounts now reach a new fan.
    for clone in clones:
        checkpointer.delete_thread(thread_id(clone, fan_id))
        threads += 1
    return ForgetReport(fan_id, found, threads, inbox, outbox, connections, leads)


def _erase_personal_data(uow: UnitOfWork, fan: Entity) -> tuple[int, int]:
    removed = 0
    for direction in ("out", "in"):
        for neighbour in list(uow.entities.iter_neighbours(fan.id, direction=direction)):
            kind = neighbour.connection.relationship_type
            if kind not in KEPT_WHEN_FORGOTTEN:
                uow.connections.delete(neighbour.connection.id)
                removed += 1
            if kind == "owns" and direction == "out":  # what a fan owns is theirs: their referral codes, posts
                uow.entities.delete(neighbour.entity.id)
    for tag in uow.tags.of_entity(fan.id):
        uow.tags.delete(tag.id)
    leads = 0
    for event in uow.events.query(type="lead_captured", actor_id=fan.id, limit=MAX_LIMIT):
        try:  # the lead holds the email address the fan typed: it goes with them
            lead = uow.entities.get(event.target_id) if event.target_id else None
        except NotFound:
            continue
        if lead is None or lead.type != "lead":
            continue
        for tag in uow.tags.of_entity(lead.id):
            uow.tags.delete(tag.id)
        uow.entities.update(
            lead.id, name="Forgotten lead", properties={"email": None, "consentAt": None, "consentSource": None}
        )
        uow.entities.delete(lead.id)
        leads += 1
    personal: dict[str, Any] = {"email": None, "identities": {}, "timezone": None, "messagesStopped": None}
    uow.entities.update(fan.id, name=FORGOTTEN_NAME, properties=personal, status="inactive")
    uow.entities.delete(fan.id)
    return removed, leads


# --- the creator's own accounts and their team ------------------------------------------------


def _platform(platform: str) -> str:
    name = (platform or "").strip().lower()
    if name not in CHAT_PLATFORMS:
        raise InvalidInput(f"platform must be one of {', '.join(CHAT_PLATFORMS)}, got {platform!r}")
    return name


def _account(account: str) -> str:
    value = (account or "").strip()
    if not value or len(value) > 200 or any(c.isspace() for c in value):
        raise InvalidInput(f"{account!r} is not an account id (the platform's user id, without spaces)")
    return value


def _creator_for_update(uow: UnitOfWork, creator_id: uuid.UUID) -> Entity:
    creator = uow.entities.get_for_update(creator_id)
    if creator.type != "creator":
        raise InvalidInput(f"{creator_id} is a {creator.type}, not a creator")
    return creator


def link_creator_account(store: Store, creator_id: uuid.UUID, platform: str, account: str) -> Entity:
    """Make (platform, account) the creator's own account there (replacing an older one); refused when
    another creator has that account."""
    platform, account = _platform(platform), _account(account)
    with store.unit_of_work() as uow:
        creator = _creator_for_update(uow, creator_id)
        try:
            holder = uow.entities.by_identity("creator", platform, account)
        except NotFound:
            holder = None
        if holder is not None and holder.id != creator.id:
            raise InvalidInput(f"{platform} account {account} is already linked to creator {holder.name!r}")
        identities = {**(creator.properties.get("identities") or {}), platform: account}
        updated = uow.entities.update(creator.id, properties={"identities": identities})
        uow.commit()
    return updated


def add_team_account(store: Store, creator_id: uuid.UUID, platform: str, account: str) -> Entity:
    """Let (platform, account) command the creator's agents as one of their team (idempotent)."""
    platform, account = _platform(platform), _account(account)
    with store.unit_of_work() as uow:
        creator = _creator_for_update(uow, creator_id)
        team = {p: list(a) for p, a in (creator.properties.get("team") or {}).items()}
        if account not in team.setdefault(platform, []):
            team[platform].append(account)
        updated = uow.entities.update(creator.id, properties={"team": team})
        uow.commit()
    return updated


def remove_team_account(store: Store, creator_id: uuid.UUID, platform: str, account: str) -> Entity:
    """Take (platform, account) off the creator's team; NotFound when it is not on it."""
    platform, account = _platform(platform), _account(account)
    with store.unit_of_work() as uow:
        creator = _creator_for_update(uow, creator_id)
        team = {p: list(a) for p, a in (creator.properties.get("team") or {}).items()}
        if account not in team.get(platform, []):
            raise NotFound(f"{platform} account {account} is not on the team")
        team[platform].remove(account)
        if not team[platform]:
            del team[platform]
        updated = uow.entities.update(creator.id, properties={"team": team})
        uow.commit()
    return updated
