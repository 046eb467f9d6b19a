"""Creators' API keys for the web API: made here, shown once, stored only as a hash.

A key reads `one_<prefix>_<secret>`: an 8-character public prefix (to recognise a key in lists and
to revoke it) and 43 random url-safe characters from `secrets` (256 bits). Only the prefix and the
SHA-256 of the whole key are stored; a key that random needs no slow hash, and looking it up by its
hash never compares secrets character by character. No key is ever logged.

    InvalidApiKey (NotFound)   the presented key is malformed, unknown or revoked
"""

from __future__ import annotations

import hashlib
import secrets
import string
import uuid

from ontology import InvalidInput, NotFound, Store
from ontology.records import ApiKey

__all__ = [
    "KEY_PREFIX",
    "InvalidApiKey",
    "authenticate",
    "create_api_key",
    "hash_key",
    "list_api_keys",
    "revoke_api_key",
]

KEY_PREFIX = "one_"
PUBLIC_CHARS = 8
SECRET_BYTES = 32  # 43 url-safe characters
MAX_KEY_CHARS = 200
_ALPHABET = string.ascii_lowercase + string.digits  # no "_" or "-": the prefix ends at the next "_"


class InvalidApiKey(NotFound):
    """The presented API key is malformed, unknown or revoked (the message never repeats the key)."""


def hash_key(key: str) -> str:
    """The stored form of a key: SHA-256, hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _public_prefix(key: str) -> str | None:
    """The 8-character prefix of a well-formed key, else None."""
    if not key.startswith(KEY_PREFIX) or len(key) > MAX_KEY_CHARS:
        return None
    prefix, sep, secret = key[len(KEY_PREFIX) :].partition("_")
    if not sep or len(prefix) != PUBLIC_CHARS or set(prefix) - set(_ALPHABET) or len(secret) < SECRET_BYTES:
        return None
    return prefix


def create_api_key(store: Store, creator_id: uuid.UUID, name: str) -> tuple[str, ApiKey]:
    """A new key for the creator: (the plain key, to show once and never again; its stored record)."""
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(PUBLIC_CHARS))
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    with store.unit_of_work() as uow:
        owner = uow.entities.get(creator_id)
        if owner.type != "creator":
            raise InvalidInput(f"{creator_id} is a {owner.type}, not a creator: API keys belong to creators")
        record = uow.api_keys.add(owner.id, name, prefix, hash_key(key))
        uow.commit()
    return key, record


def authenticate(store: Store, presented: str) -> ApiKey:
    """The live key matching `presented` (its last use is recorded), or InvalidApiKey."""
    if _public_prefix(presented.strip()) is None:
        raise InvalidApiKey("malformed API key (expected one_<prefix>_<secret>)")
    with store.unit_of_work() as uow:
        try:
            found = uow.api_keys.by_hash(hash_key(presented.strip()))
        except NotFound:
            raise InvalidApiKey("unknown or revoked API key") from None
        uow.commit()  # keeps last_used_at
    return found


def list_api_keys(store: Store, creator_id: uuid.UUID, *, include_revoked: bool = False) -> list[ApiKey]:
    """The creator's keys (live ones unless `include_revoked`), oldest first."""
    with store.unit_of_work() as uow:
        return uow.api_keys.list(creator_id, include_revoked=include_revoked)


def revoke_api_key(store: Store, creator_id: uuid.UUID, key_id_or_prefix: str) -> ApiKey:
    """Revoke one of the creator's live keys, named by its id or its prefix (`ab12cd34` or
    `one_ab12cd34`); NotFound when the creator has no such live key."""
    wanted = key_id_or_prefix.strip()
    with store.unit_of_work() as uow:
        try:
            key_id = uuid.UUID(wanted)
        except ValueError:
            prefix = wanted.removeprefix(KEY_PREFIX).partition("_")[0]
            matches = [k for k in uow.api_keys.list(creator_id) if k.prefix == prefix]
            if not matches:
                raise NotFound(f"the creator has no live API key with prefix {prefix!r}") from None
            if len(matches) > 1:
                raise InvalidInput(f"several live keys have the prefix {prefix!r}: revoke by id") from None
            key_id = matches[0].id
        revoked = uow.api_keys.revoke(creator_id, key_id)
        uow.commit()
    return revoked
