"""One-time codes, stored only as hashes: account links now, step-up verification later."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from ontology import tables as t
from ontology.errors import InvalidInput
from ontology.records import OneTimeCode
from ontology.repositories._base import Repository
from ontology.validation import clean_payload


class CodeRepository(Repository):
    """Issued codes: each redeems once, before it expires."""

    def issue(
        self,
        code_hash: str,
        purpose: str,
        *,
        ttl_seconds: float,
        subject_id: uuid.UUID | None = None,
        data: dict[str, Any] | None = None,
    ) -> OneTimeCode:
        """Store a new code's hash; the subject's older unused codes for the same purpose stop working."""
        if subject_id is not None:
            self._uow.execute(
                update(t.one_time_codes)
                .where(
                    t.one_time_codes.c.purpose == purpose,
                    t.one_time_codes.c.subject_id == subject_id,
                    t.one_time_codes.c.used_at.is_(None),
                )
                .values(expires_at=func.now())
            )
        row = self._uow.execute(
            insert(t.one_time_codes)
            .values(
                code_hash=code_hash,
                purpose=purpose,
                subject_id=subject_id,
                data=clean_payload(data or {}, "data"),
                expires_at=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, ttl_seconds),
            )
            .returning(t.one_time_codes)
        ).one()
        return OneTimeCode(**row._mapping)

    def redeem(self, code_hash: str, purpose: str, *, max_attempts: int | None = None) -> OneTimeCode:
        """Use a code once. InvalidInput saying why when it is unknown, used or expired, or (with
        `max_attempts`) locked after that many wrong guesses."""
        conditions = [
            t.one_time_codes.c.code_hash == code_hash,
            t.one_time_codes.c.purpose == purpose,
            t.one_time_codes.c.used_at.is_(None),
            t.one_time_codes.c.expires_at > func.now(),
        ]
        if max_attempts is not None:
            conditions.append(t.one_time_codes.c.attempts < max_attempts)
        row = self._uow.execute(
            update(t.one_time_codes)
            .where(*conditions)
            .values(used_at=func.now(), attempts=t.one_time_codes.c.attempts + 1)
            .returning(t.one_time_codes)
        ).first()
        if row is not None:
            return OneTimeCode(**row._mapping)
        known = self._uow.execute(
            select(t.one_time_codes).where(
                t.one_time_codes.c.code_hash == code_hash, t.one_time_codes.c.purpose == purpose
            )
        ).first()
        if known is None:
            raise InvalidInput("that code is not valid: check it, or ask for a new one")
        if known.used_at is not None:
            raise InvalidInput("that code was already used: ask for a new one")
        if max_attempts is not None and known.attempts >= max_attempts and known.expires_at > self._now():
            raise InvalidInput("that code is locked after too many wrong tries: ask for a new one")
        raise InvalidInput("that code has expired: ask for a new one")

    def failed_attempt(self, purpose: str, subject_id: uuid.UUID) -> int:
        """Count a wrong guess against the subject's open code; returns the attempts so far (0 if none open)."""
        row = self._uow.execute(
            update(t.one_time_codes)
            .where(
                t.one_time_codes.c.purpose == purpose,
                t.one_time_codes.c.subject_id == subject_id,
                t.one_time_codes.c.used_at.is_(None),
                t.one_time_codes.c.expires_at > func.now(),
            )
            .values(attempts=t.one_time_codes.c.attempts + 1)
            .returning(t.one_time_codes.c.attempts)
        ).first()
        return int(row[0]) if row is not None else 0

    def open_code(self, purpose: str, subject_id: uuid.UUID) -> OneTimeCode | None:
        """The subject's newest code for `purpose` that is neither used nor expired, if any."""
        row = self._uow.execute(
            select(t.one_time_codes)
            .where(
                t.one_time_codes.c.purpose == purpose,
                t.one_time_codes.c.subject_id == subject_id,
                t.one_time_codes.c.used_at.is_(None),
                t.one_time_codes.c.expires_at > func.now(),
            )
            .order_by(t.one_time_codes.c.created_at.desc())
            .limit(1)
        ).first()
        return OneTimeCode(**row._mapping) if row is not None else None

    def issued_since(self, purpose: str, subject_id: uuid.UUID, seconds: float) -> int:
        """How many codes for `purpose` the subject was issued in the last `seconds` (database clock)."""
        return int(
            self._uow.execute(
                select(func.count())
                .select_from(t.one_time_codes)
                .where(
                    t.one_time_codes.c.purpose == purpose,
                    t.one_time_codes.c.subject_id == subject_id,
                    t.one_time_codes.c.created_at > func.now() - func.make_interval(0, 0, 0, 0, 0, 0, seconds),
                )
            ).scalar_one()
        )

    def redeemed(self, purpose: str, subject_id: uuid.UUID, data: dict[str, Any]) -> OneTimeCode | None:
        """A used code of the subject for `purpose` whose data holds every key/value of `data`, if any."""
        row = self._uow.execute(
            select(t.one_time_codes)
            .where(
                t.one_time_codes.c.purpose == purpose,
                t.one_time_codes.c.subject_id == subject_id,
                t.one_time_codes.c.used_at.is_not(None),
                t.one_time_codes.c.data.contains(clean_payload(data, "data")),
            )
            .limit(1)
        ).first()
        return OneTimeCode(**row._mapping) if row is not None else None

    def expire(self, code_hash: str) -> None:
        """End a code now (database clock), used or not."""
        self._uow.execute(
            update(t.one_time_codes).where(t.one_time_codes.c.code_hash == code_hash).values(expires_at=func.now())
        )

    def _now(self) -> Any:
        return self._uow.execute(select(func.now())).scalar_one()

    def forget_subject(self, subject_id: uuid.UUID) -> None:
        """Delete every code issued to a person."""
        self._uow.execute(t.one_time_codes.delete().where(t.one_time_codes.c.subject_id == subject_id))
