"""API keys: shown once, stored only as a hash, scoped to one creator, dead once revoked."""

from __future__ import annotations

import hashlib
import re
import uuid

import pytest

from one.api_keys import InvalidApiKey, authenticate, create_api_key, list_api_keys, revoke_api_key
from ontology import InvalidInput, NotFound, Store, register_creator

KEY_SHAPE = re.compile(r"^one_([a-z0-9]{8})_[A-Za-z0-9_-]{32,}$")


def _creator(store: Store, name: str) -> uuid.UUID:
    tag = uuid.uuid4().hex[:8]
    return register_creator(store, name, email=f"{tag}@keys.test", handle=f"k{tag}").id


@pytest.fixture(scope="module")
def ava(store: Store) -> uuid.UUID:
    return _creator(store, "Ava")


@pytest.fixture(scope="module")
def ben(store: Store) -> uuid.UUID:
    return _creator(store, "Ben")


def test_a_key_is_shown_once_and_stored_only_as_its_hash(store: Store, ava: uuid.UUID) -> None:
    key, record = create_api_key(store, ava, "dashboard")
    match = KEY_SHAPE.match(key)
    assert match and match.group(1) == record.prefix
    assert record.key_hash == hashlib.sha256(key.encode()).hexdigest()
    stored = [k for k in list_api_keys(store, ava) if k.id == record.id]
    assert stored and key not in repr(stored)
    other, _ = create_api_key(store, ava, "dashboard")
    assert other != key


def test_authenticate_finds_the_key_and_records_its_use(store: Store, ava: uuid.UUID) -> None:
    key, record = create_api_key(store, ava, "scripts")
    assert record.last_used_at is None
    found = authenticate(store, key)
    assert (found.id, found.creator_id) == (record.id, ava)
    assert next(k for k in list_api_keys(store, ava) if k.id == record.id).last_used_at is not None


@pytest.mark.parametrize(
    "presented", ["", "Bearer", "one_", "one_abc_def", "ONE_abcdefgh_" + "x" * 43, "one_abcdefgh_" + "x" * 300]
)
def test_malformed_keys_are_refused(store: Store, presented: str) -> None:
    with pytest.raises(InvalidApiKey, match="malformed"):
        authenticate(store, presented)


def test_unknown_and_tampered_keys_are_refused_without_echoing_them(store: Store, ava: uuid.UUID) -> None:
    key, _ = create_api_key(store, ava, "tamper")
    tampered = key[:-1] + ("a" if key[-1] != "a" else "b")
    with pytest.raises(InvalidApiKey) as refused:
        authenticate(store, tampered)
    assert tampered not in str(refused.value) and key[13:] not in str(refused.value)
    assert isinstance(refused.value, NotFound)


def test_revoke_by_prefix_or_id_kills_the_key(store: Store, ava: uuid.UUID) -> None:
    first, by_prefix = create_api_key(store, ava, "old laptop")
    second, by_id = create_api_key(store, ava, "old phone")
    assert revoke_api_key(store, ava, f"one_{by_prefix.prefix}").revoked_at is not None
    assert revoke_api_key(store, ava, str(by_id.id)).id == by_id.id
    for key in (first, second):
        with pytest.raises(InvalidApiKey, match="unknown or revoked"):
            authenticate(store, key)
    live = {k.id for k in list_api_keys(store, ava)}
    every = {k.id for k in list_api_keys(store, ava, include_revoked=True)}
    assert {by_prefix.id, by_id.id} <= every - live
    with pytest.raises(NotFound):
        revoke_api_key(store, ava, by_prefix.prefix)  # already revoked


def test_a_creator_cannot_list_or_revoke_another_creators_key(store: Store, ava: uuid.UUID, ben: uuid.UUID) -> None:
    key, record = create_api_key(store, ava, "ava only")
    assert record.id not in {k.id for k in list_api_keys(store, ben)}
    with pytest.raises(NotFound):
        revoke_api_key(store, ben, str(record.id))
    with pytest.raises(NotFound):
        revoke_api_key(store, ben, record.prefix)
    assert authenticate(store, key).creator_id == ava


def test_keys_belong_to_creators_and_need_a_name(store: Store, ava: uuid.UUID) -> None:
    with store.unit_of_work() as uow:
        fan = uow.entities.insert("audience_member", "A fan")
        uow.commit()
    with pytest.raises(InvalidInput, match="not a creator"):
        create_api_key(store, fan.id, "nope")
    with pytest.raises(NotFound):
        create_api_key(store, uuid.uuid4(), "nobody")
    with pytest.raises(InvalidInput):
        create_api_key(store, ava, "   ")
