"""The local Stripe's storage: Stripe-shaped objects, idempotency records and signed events in Postgres.

Everything lives in provider records (provider "stripe"; kinds customer, checkout_session,
payment_intent, charge, refund, subscription, event, idempotency, config). Events keep their exact
JSON body as text, because JSONB reorders keys and a re-serialised body no longer matches its signature.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import stripe

from ontology import Store, UnitOfWork
from ontology.errors import ConstraintViolation, InvalidInput, NotFound
from providers.stripe._errors import StripeCardDeclined, StripeIdempotencyError, StripeRejected, StripeUnavailable
from providers.stripe._models import SignedEvent, check_idempotency_key
from providers.stripe._webhooks import sign_payload, verify_webhook

__all__ = ["DECLINING_PAYMENT_METHODS", "Json", "Stored", "StripeLedger", "missing", "new_id"]

P = "stripe"
API_VERSION: str = stripe.api_version  # the version this SDK speaks, as Stripe stamps on events
Json = dict[str, Any]
Stored = tuple[str, str, Json]  # (kind, key, data) of a provider record to store

_DECLINED = "Your card was declined."
# Stripe's test payment methods that fail, as (code, decline_code, message).
DECLINING_PAYMENT_METHODS: dict[str, tuple[str, str | None, str]] = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline", _DECLINED),
    "pm_card_chargeDeclinedInsufficientFunds": (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "pm_card_chargeDeclinedLostCard": ("card_declined", "lost_card", _DECLINED),
    "pm_card_chargeDeclinedStolenCard": ("card_declined", "stolen_card", _DECLINED),
    "pm_card_chargeDeclinedFraudulent": ("card_declined", "fraudulent", _DECLINED),
    "pm_card_chargeDeclinedExpiredCard": ("expired_card", None, "Your card has expired."),
    "pm_card_chargeDeclinedIncorrectCvc": ("incorrect_cvc", None, "Your card's security code is incorrect."),
    "pm_card_chargeDeclinedProcessingError": (
        "processing_error",
        None,
        "An error occurred while processing your card.",
    ),
}


def new_id(prefix: str) -> str:
    """A Stripe-shaped id that says it is local: `pi_local_<24 hex>`."""
    return f"{prefix}_local_{secrets.token_hex(12)}"


def missing(noun: str, key: str) -> StripeRejected:
    """Stripe's answer for an unknown id."""
    return StripeRejected(f"No such {noun}: '{key}'", "resource_missing")


class StripeLedger:
    """Units of work, idempotent creates, and event storage/signing for `LocalStripe`."""

    def __init__(self, store: Store, *, webhook_secret: str | None, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._secret = webhook_secret
        self._clock = clock

    def now(self) -> int:
        """Seconds since the epoch, as Stripe's `created` fields."""
        return int(self._clock())

    @contextmanager
    def unit_of_work(self, *, single_statement: bool = False) -> Iterator[UnitOfWork]:
        """A unit of work whose input errors read as Stripe rejections (`single_statement`: one
        autocommitted statement, see `Store.single_statement`)."""
        try:
            with self._store.single_statement() if single_statement else self._store.unit_of_work() as uow:
                yield uow
        except InvalidInput as error:  # e.g. a NUL byte or an oversized metadata value
            raise StripeRejected(f"Stripe (local) cannot store this request: {error}") from error

    @staticmethod
    def get(uow: UnitOfWork, kind: str, key: str, noun: str, *, lock: bool = False) -> Json:
        """The stored object, or Stripe's resource_missing rejection."""
        try:
            return dict(uow.records.get(P, kind, key, for_update=lock).data)
        except NotFound:
            raise missing(noun, key) from None

    @staticmethod
    def put(uow: UnitOfWork, kind: str, obj: Json) -> None:
        """Store a new object under its id."""
        uow.records.put(P, kind, str(obj["id"]), obj)

    @staticmethod
    def update(uow: UnitOfWork, kind: str, key: str, changes: Json) -> Json:
        """Merge `changes` into a stored object and return it."""
        return dict(uow.records.update(P, kind, key, changes).data)

    def webhook_secret(self) -> str:
        """The secret events are signed with: the given one, or a random one kept in the ledger."""
        for _ in range(2):
            if self._secret is not None:
                return self._secret
            try:
                with self.unit_of_work() as uow:
                    try:
                        self._secret = str(uow.records.get(P, "config", "webhook_secret").data["secret"])
                    except NotFound:
                        secret = f"whsec_local_{secrets.token_hex(24)}"
                        uow.records.put(P, "config", "webhook_secret", {"secret": secret})
                        uow.commit()
                        self._secret = secret
            except ConstraintViolation:  # another process created it first: read theirs
                continue
        if self._secret is None:
            raise StripeUnavailable("Stripe (local) could not load its webhook secret")
        return self._secret

    def emit(self, uow: UnitOfWork, type_: str, obj: Json, idempotency_key: str | None = None) -> str:
        """Store a Stripe event about `obj` and return its body (exact text, as it will be signed)."""
        _, key, data = self.event(type_, obj, idempotency_key)
        uow.records.put(P, "event", key, data)
        return str(data["payload"])

    def event(self, type_: str, obj: Json, idempotency_key: str | None = None) -> Stored:
        """A Stripe event about `obj` as the record `emit` stores (its body is the exact text signed)."""
        event = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": idempotency_key},
            "type": type_,
        }
        payload = json.dumps(event, separators=(",", ":"))
        return "event", str(event["id"]), {"type": type_, "payload": payload}

    def signed(self, payload: str) -> SignedEvent:
        """An event body with the Stripe-Signature header a delivery made now would carry."""
        body, secret = payload.encode(), self.webhook_secret()
        header = sign_payload(body, secret)
        return SignedEvent(event=verify_webhook(body, header, secret=secret), payload=body, signature_header=header)

    def event_payloads(self, *, limit: int, event_type: str | None) -> list[str]:
        """Stored event bodies, newest first."""
        with self.unit_of_work() as uow:
            rows = uow.records.list(P, "event", limit=1000 if event_type else limit)
        wanted = [row for row in rows if event_type is None or row.data.get("type") == event_type]
        return [str(row.data["payload"]) for row in wanted[:limit]]

    def idempotent(self, key: str, endpoint: str, request: Json, create: Callable[[UnitOfWork], Json]) -> Json:
        """Run `create` once per key and save its response; later calls replay it (a card decline too).

        A key reused with another request is StripeIdempotencyError. A request `create` rejects saves
        nothing, as on Stripe, where only requests that started executing keep their result.
        """
        key = check_idempotency_key(key)
        fingerprint = _fingerprint(endpoint, request)
        for _ in range(2):
            try:
                with self.unit_of_work() as uow:
                    try:
                        saved = uow.records.get(P, "idempotency", key).data
                    except NotFound:
                        response = create(uow)
                        uow.records.put(P, "idempotency", key, {"fingerprint": fingerprint, "response": response})
                        uow.commit()
                        return self._replay(response)
            except ConstraintViolation:
                continue  # a concurrent request with this key committed first: replay its response
            return self._replay_saved(key, fingerprint, saved)
        raise StripeUnavailable(f"Stripe (local) could not settle idempotency key {key!r}; retry")

    def idempotent_stores(
        self, key: str, endpoint: str, request: Json, create: Callable[[], tuple[list[Stored], Json]]
    ) -> Json:
        """`idempotent` for a create that only stores new objects and cannot be rejected: `create` returns
        the records to store and the response, and one autocommitted statement stores them with the
        key's record, or nothing when the key was used before (then its first response is replayed, or
        StripeIdempotencyError for another request, as `idempotent`)."""
        key = check_idempotency_key(key)
        fingerprint = _fingerprint(endpoint, request)
        stored, response = create()
        try:
            with self.unit_of_work(single_statement=True) as uow:
                saved_now = uow.records.put_once(
                    P, "idempotency", key, {"fingerprint": fingerprint, "response": response}, stored
                )
        except ConstraintViolation:  # an object id taken (never, in practice): the general path decides
            return self.idempotent(key, endpoint, request, lambda uow: self.store(uow, stored) or response)
        if saved_now:
            return self._replay(response)
        with self.unit_of_work() as uow:  # the key's first request committed before this one
            saved = uow.records.get(P, "idempotency", key).data
        return self._replay_saved(key, fingerprint, saved)

    @staticmethod
    def store(uow: UnitOfWork, stored: list[Stored]) -> None:
        """Store new records (kind, key, data)."""
        for kind, key, data in stored:
            uow.records.put(P, kind, key, data)

    def _replay_saved(self, key: str, fingerprint: str, saved: dict[str, Any]) -> Json:
        if saved["fingerprint"] != fingerprint:
            raise StripeIdempotencyError(
                "Keys for idempotent requests can only be used with the same parameters they were first "
                f"used with (key {key!r}).",
                "idempotency_key_in_use",
            )
        return self._replay(saved["response"])

    @staticmethod
    def _replay(response: Json) -> Json:
        error = response.get("error")
        if isinstance(error, dict):
            raise StripeCardDeclined(str(error["message"]), error.get("code"), error.get("decline_code"))
        return response


def _fingerprint(endpoint: str, request: Json) -> str:
    """What an idempotency key's request is compared by."""
    return hashlib.sha256(json.dumps([endpoint, request], sort_keys=True).encode()).hexdigest()
