"""What every repository shares: the unit of work it runs in, id and status parsing."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Literal

from ontology.errors import InvalidInput
from ontology.types import ENTITY_STATUSES

if TYPE_CHECKING:
    from ontology.store import UnitOfWork


def parse_id(value: uuid.UUID | str, field: str = "id") -> uuid.UUID:
    """A UUID from a UUID or its string form, or InvalidInput naming the field."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInput(f"{field} {value!r} is not a valid id (a UUID)") from None


def parse_status(value: str) -> str:
    """The status if the registry knows it, else InvalidInput listing the statuses."""
    if value not in ENTITY_STATUSES:
        raise InvalidInput(f"unknown status {value!r}; statuses: {', '.join(ENTITY_STATUSES)}")
    return value


Direction = Literal["out", "in", "both"]


class Repository:
    """Base of every repository: it runs its statements in one unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
