"""One person, one fan: link codes (single use, expiring, not guessable) merge two fans with their
connections and memory; forgetting a fan erases them everywhere but leaves anonymous events."""

from __future__ import annotations

import uuid

import pytest
from langchain_core.messages import SystemMessage

from bots import identity
from bots.identity import (
    MAX_LINK_ATTEMPTS,
    forget_fan,
    is_creator_or_team,
    issue_link_code,
    redeem_link_code,
)
from graphs.conversation import CloneConversations, thread_id
from graphs.models import ModelSet
from ontology import InvalidInput, NotFound, Store
from tests.graphs.fake_chat import ScriptedChatModel


@pytest.fixture
def model() -> ScriptedChatModel:
    return ScriptedChatModel(script=["ok"] * 50)


@pytest.fixture
def chat(store, knowledge, providers, checkpointer, model):  # type: ignore[no-untyped-def]
    conversations = CloneConversations(
        store, knowledge, providers, ModelSet(model, model), checkpointer, ("search_knowledge",)
    )
    yield conversations
    conversations.close()


def last_system_prompt(model: ScriptedChatModel) -> str:
    return "\n".join(m.text for m in model.prompts[-1] if isinstance(m, SystemMessage))


def new_fan(store: Store, platform: str, account: str) -> uuid.UUID:
    with store.unit_of_work() as uow:
        fan = uow.entities.insert("audience_member", f"{platform} {account}", {"identities": {platform: account}})
        uow.commit()
    return fan.id


def redeem(store, checkpointer, code, creator, platform, account):  # type: ignore[no-untyped-def]
    return redeem_link_code(store, checkpointer, code, creator_id=creator, platform=platform, account=account)


def test_a_link_makes_both_accounts_one_fan_who_keeps_both_memories(store, checkpointer, creator, chat, model) -> None:  # type: ignore[no-untyped-def]
    telegram = chat.reply(creator, "telegram", "t-1", "Hi! I'm training for a marathon in May.")
    discord = chat.reply(creator, "discord", "d-1", "My dog is called Rex.")
    assert telegram.fan_id != discord.fan_id
    code = issue_link_code(store, telegram.fan_id)
    assert len(identity.normalize_code(code)) == 8

    survivor = redeem(store, checkpointer, code.lower().replace("-", " "), creator, "discord", "d-1")

    assert survivor.id == telegram.fan_id
    assert chat.fan(creator, "discord", "d-1").id == chat.fan(creator, "telegram", "t-1").id == telegram.fan_id
    assert survivor.properties["identities"] == {"telegram": "t-1", "discord": "d-1"}
    chat.reply(creator, "discord", "d-1", "what do you know about me?")
    prompt = last_system_prompt(model)
    assert "marathon" in prompt and "Rex" in prompt  # the merged fan's facts joined the survivor's
    with store.unit_of_work() as uow:
        with pytest.raises(NotFound):
            uow.entities.get(discord.fan_id)
        [link] = [e for e in uow.events.query(type="user_joined", actor_id=survivor.id) if e.metadata.get("linked")]
    assert link.metadata == {"platform": "discord", "linked": True, "linkedFrom": str(discord.fan_id)}
    gone = chat.graph.get_state({"configurable": {"thread_id": thread_id(discord.clone_id, discord.fan_id)}})
    assert not gone.values  # the merged fan's thread is deleted


def test_a_survivor_who_never_talked_to_the_clone_takes_the_other_conversation(  # type: ignore[no-untyped-def]
    store,
    checkpointer,
    creator,
    chat,
    model,
) -> None:
    talked = chat.reply(creator, "discord", "d-2", "I'm vegetarian and I lift three times a week.")
    quiet = new_fan(store, "telegram", "t-2")
    redeem(store, checkpointer, issue_link_code(store, quiet), creator, "discord", "d-2")
    chat.reply(creator, "telegram", "t-2", "what should I eat?")
    assert chat.fan(creator, "telegram", "t-2").id == quiet
    assert "vegetarian" in last_system_prompt(model)
    assert not chat.graph.get_state({"configurable": {"thread_id": thread_id(talked.clone_id, talked.fan_id)}}).values


def test_merging_moves_connections_without_duplicates(store, checkpointer, creator) -> None:  # type: ignore[no-untyped-def]
    keeper, merged = new_fan(store, "telegram", "t-3"), new_fan(store, "discord", "d-3")
    with store.unit_of_work() as uow:
        community = uow.entities.insert("community", "Lifters", {})
        token = uow.entities.insert("token", "AVA", {})
        course = uow.entities.insert("course", "Strength 101", {})
        membership = uow.entities.insert("membership", "Inner circle", {"price": 4900, "currency": "USD"})
        for fan in (keeper, merged):
            uow.connections.insert(fan, creator, "following")
        uow.connections.insert(keeper, token.id, "holds_tokens", {"balance": "100", "staked": "5"})
        uow.connections.insert(merged, token.id, "holds_tokens", {"balance": "50", "staked": "0"})
        uow.connections.insert(keeper, course.id, "enrolled_in", {"status": "active", "progress": 0.2})
        uow.connections.insert(merged, course.id, "enrolled_in", {"status": "active", "progress": 0.7})
        uow.connections.insert(merged, community.id, "member_of")
        paid = {"transactionType": "payment", "amount": 4900, "currency": "USD"}
        uow.connections.insert(merged, membership.id, "transacted", paid)
        uow.connections.insert(keeper, merged, "following")  # between the two: dropped, never a self-loop
        uow.tags.add(merged, "segment", "vip")
        uow.entities.update(merged, properties={"email": "sam@example.test", "messagesStopped": True})
        uow.commit()

    redeem(store, checkpointer, issue_link_code(store, keeper), creator, "discord", "d-3")

    with store.unit_of_work() as uow:
        out = uow.entities.neighbours(keeper, direction="out")
        kinds = sorted((n.connection.relationship_type, n.entity.name) for n in out)
        by_kind = {n.connection.relationship_type: n.connection.metadata for n in out}
        kept = uow.entities.get(keeper)
        tags = [(t.key, t.value) for t in uow.tags.of_entity(keeper)]
        assert uow.connections.query(from_id=merged) == [] and uow.connections.query(to_id=merged) == []
    assert kinds == sorted(
        [
            ("following", "Ava Stone"),
            ("holds_tokens", "AVA"),
            ("enrolled_in", "Strength 101"),
            ("member_of", "Lifters"),
            ("transacted", "Inner circle"),
        ]
    )
    assert by_kind["holds_tokens"] == {"balance": "150", "staked": "5"}
    assert by_kind["enrolled_in"] == {"status": "active", "progress": 0.7}
    assert by_kind["transacted"]["amount"] == 4900
    assert tags == [("segment", "vip")]
    assert kept.properties["email"] == "sam@example.test" and kept.properties["messagesStopped"] is True


def test_two_fans_with_different_accounts_on_one_platform_are_not_merged(store, checkpointer, creator) -> None:  # type: ignore[no-untyped-def]
    keeper = new_fan(store, "telegram", "t-8")
    with store.unit_of_work() as uow:
        other = uow.entities.insert("audience_member", "B", {"identities": {"telegram": "t-9", "discord": "d-9"}})
        uow.commit()
    code = issue_link_code(store, keeper)
    with pytest.raises(InvalidInput, match="cannot be merged"):
        redeem(store, checkpointer, code, creator, "discord", "d-9")
    with store.unit_of_work() as uow:
        assert uow.entities.get(other.id).properties["identities"] == {"telegram": "t-9", "discord": "d-9"}
    assert redeem(store, checkpointer, code, creator, "discord", "d-10").id == keeper  # the code still works


def test_a_code_works_once_and_a_newer_code_replaces_it(store, checkpointer, creator) -> None:  # type: ignore[no-untyped-def]
    fan = new_fan(store, "telegram", "t-4")
    older, newer = issue_link_code(store, fan), issue_link_code(store, fan)
    with pytest.raises(InvalidInput, match="expired"):
        redeem(store, checkpointer, older, creator, "discord", "d-4")
    assert redeem(store, checkpointer, newer, creator, "discord", "d-4").id == fan
    with pytest.raises(InvalidInput, match="already used"):
        redeem(store, checkpointer, newer, creator, "discord", "d-4b")


def test_an_expired_code_is_refused(store, checkpointer, creator, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    fan = new_fan(store, "telegram", "t-5")
    monkeypatch.setattr(identity, "LINK_TTL_SECONDS", -1)  # issued already past its ten minutes
    code = issue_link_code(store, fan)
    with pytest.raises(InvalidInput, match="expired"):
        redeem(store, checkpointer, code, creator, "discord", "d-5")


def test_a_forged_code_is_refused_and_stores_no_code_text(store, checkpointer, creator) -> None:  # type: ignore[no-untyped-def]
    fan = new_fan(store, "telegram", "t-6")
    code = identity.normalize_code(issue_link_code(store, fan))
    with pytest.raises(InvalidInput, match="not valid"):
        redeem(store, checkpointer, "ABCD-EFGH" if code != "ABCDEFGH" else "HGFE-DCBA", creator, "discord", "d-6")
    with store.unit_of_work() as uow:
        with pytest.raises(InvalidInput, match="not valid"):
            uow.codes.redeem(code, "link")  # the code itself is not what is stored: only its hash


def test_guessing_is_limited_per_account(store, checkpointer, creator) -> None:  # type: ignore[no-untyped-def]
    fan = new_fan(store, "telegram", "t-7")
    code = issue_link_code(store, fan)
    for guess in range(MAX_LINK_ATTEMPTS):
        with pytest.raises(InvalidInput, match="not valid"):
            redeem(store, checkpointer, f"ZZZZZZZ{guess + 2}", creator, "discord", "guesser")
    with pytest.raises(InvalidInput, match="too many"):
        redeem(store, checkpointer, code, creator, "discord", "guesser")  # even the right code: refused
    assert redeem(store, checkpointer, code, creator, "discord", "d-7").id == fan  # another account may
    with pytest.raises(InvalidInput, match="too many"):
        redeem(store, checkpointer, "ZZZZZZZZ", creator, "discord", "guesser")


def test_forgetting_erases_everything_but_anonymous_events(store, checkpointer, creator, chat, model) -> None:  # type: ignore[no-untyped-def]
    first = chat.reply(creator, "telegram", "f-1", "I'm Lena and I live in Oslo.")
    fan = first.fan_id
    issue_link_code(store, fan)
    with store.unit_of_work() as uow:
        lead = uow.entities.insert("lead", "lena@example.test", {"email": "lena@example.test"})
        uow.tags.add(lead.id, "email", "lena@example.test")
        uow.connections.insert(creator, lead.id, "owns")
        uow.events.insert("lead_captured", actor_id=fan, target_id=lead.id, metadata={"source": "clone_chat"})
        referral = uow.entities.insert("referral", "referral LENA", {"referrerCode": "LENA2345"})
        uow.connections.insert(fan, referral.id, "owns")
        uow.inbox.accept("telegram", "u-1", creator_id=creator, payload={"text": "hi"}, sender_id=fan, chat="f-1")
        uow.outbox.add("k-f-1", "telegram", "f-1", "hello Lena", kind="broadcast", recipient_id=fan)
        uow.commit()
        before = sum(t.count for t in uow.events.totals("clone_interaction"))

    report = forget_fan(store, checkpointer, fan)

    assert report.found and report.inbox == 1 and report.outbox == 1 and report.leads == 1 and report.threads >= 1
    assert not chat.graph.get_state({"configurable": {"thread_id": thread_id(first.clone_id, fan)}}).values
    with store.unit_of_work() as uow:
        with pytest.raises(NotFound):
            uow.entities.get(fan)
        with pytest.raises(NotFound):
            uow.entities.by_identity("audience_member", "telegram", "f-1")
        with pytest.raises(NotFound):
            uow.entities.get(lead.id)
        with pytest.raises(NotFound):
            uow.entities.get(referral.id)
        assert uow.entities.by_tag("email", "lena@example.test") == []
        assert uow.inbox.pending(creator, fan) == [] and uow.outbox.query(recipient_id=fan) == []
        assert uow.connections.query(from_id=fan) == []
        assert sum(t.count for t in uow.events.totals("clone_interaction")) == before  # history still counts
        assert uow.events.query(type="clone_interaction", actor_id=fan)  # pointing at an anonymous id
    assert forget_fan(store, checkpointer, fan).found is False  # twice is fine

    again = chat.reply(creator, "telegram", "f-1", "where do I live?")
    assert again.fan_id != fan  # a brand-new fan
    assert "Oslo" not in last_system_prompt(model) and "Lena" not in last_system_prompt(model)


def test_creator_accounts_and_team(store, creator) -> None:  # type: ignore[no-untyped-def]
    identity.link_creator_account(store, creator, "Slack", "U-AVA")
    identity.add_team_account(store, creator, "slack", "U-BOB")
    identity.add_team_account(store, creator, "slack", "U-BOB")
    with store.unit_of_work() as uow:
        assert is_creator_or_team(uow, creator, "slack", "U-AVA") and is_creator_or_team(uow, creator, "slack", "U-BOB")
        assert uow.entities.get(creator).properties["team"] == {"slack": ["U-BOB"]}
    identity.remove_team_account(store, creator, "slack", "U-BOB")
    with store.unit_of_work() as uow:
        assert not is_creator_or_team(uow, creator, "slack", "U-BOB")
    with pytest.raises(NotFound, match="not on the team"):
        identity.remove_team_account(store, creator, "slack", "U-BOB")
    with pytest.raises(InvalidInput, match="platform must be one of"):
        identity.link_creator_account(store, creator, "myspace", "x")
