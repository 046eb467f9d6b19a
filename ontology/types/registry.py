"""Types as data: one registry holds every entity, connection and event type of the ontology.

A type is a name, a description, a pydantic model for its properties (entities) or metadata
(connections, events) and an example payload. Connection types also name the entity types
allowed at each end. The store validates every write against this registry.

The models are strict: a key the model does not declare, `true` for an integer or `"4900"` for a
price is InvalidInput naming the key and the allowed keys, never a silent coercion. Only timestamps
are lenient in one way: an ISO 8601 string is accepted for a `Timestamp` field, because values
arrive as JSON (tool arguments, `--props`, JSONB read back for a merge) as often as from Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from ontology.errors import InvalidInput

Kind = Literal["entity", "connection", "event"]
KINDS: tuple[Kind, ...] = ("entity", "connection", "event")


MAX_KEYS_NAMED = 20  # an error lists at most this many allowed keys


def _iso_datetime(value: Any) -> Any:
    """An ISO 8601 string as a datetime (JSON has no datetime type); anything else is left to strict checks."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("expected an ISO 8601 date and time like 2026-03-01T09:00:00+00:00") from None
    return value


Timestamp = Annotated[datetime, BeforeValidator(_iso_datetime)]
"""A datetime, given as a datetime or an ISO 8601 string (stored as the ISO string)."""


class Payload(BaseModel):
    """Base of every properties/metadata model: strict types, and no key the model does not declare."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    @classmethod
    def allowed_keys(cls) -> list[str]:
        """The keys this model accepts, sorted."""
        return sorted(field.alias or name for name, field in cls.model_fields.items())


@dataclass(frozen=True)
class TypeSpec:
    """One type of the ontology."""

    kind: Kind
    name: str
    description: str
    model: type[Payload] = Payload
    example: Mapping[str, Any] = field(default_factory=dict)
    category: str = ""
    # connection types only: the entity types allowed at each end
    from_types: frozenset[str] = frozenset()
    to_types: frozenset[str] = frozenset()
    # entity types only: property keys unique among live entities of this type (case-insensitive)
    unique_keys: tuple[str, ...] = ()

    def validate(self, payload: Mapping[str, Any] | None) -> dict[str, Any]:
        """Return the payload checked and normalised by the type's model, or raise InvalidInput."""
        if payload is not None and not isinstance(payload, Mapping):
            raise InvalidInput(f"{self.kind} {self.name!r}: properties must be a JSON object")
        try:
            model = self.model.model_validate(dict(payload or {}))
        except ValidationError as error:
            raise InvalidInput(self._explain(error)) from error
        return model.model_dump(mode="json", by_alias=True, exclude_none=True)

    def _explain(self, error: ValidationError) -> str:
        """One line naming each offending key, what was wrong, and the keys this type allows."""
        problems = []
        for e in error.errors():
            where = ".".join(str(p) for p in e["loc"]) or "(root)"
            if e["type"] == "extra_forbidden":
                problems.append(f"unknown key {where!r}")
            else:
                problems.append(f"{where}: {e['msg'].removeprefix('Value error, ')} (got {_shown(e.get('input'))})")
        allowed = self.model.allowed_keys()
        listed = ", ".join(allowed[:MAX_KEYS_NAMED]) or "none"
        if len(allowed) > MAX_KEYS_NAMED:
            listed += f" (+{len(allowed) - MAX_KEYS_NAMED} more: see `one types --kind {self.kind}`)"
        what = "properties" if self.kind == "entity" else "metadata"
        return f"{self.kind} {self.name!r} {what}: {'; '.join(problems)}. Allowed keys: {listed}"

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (for `one types --json` and for LLM tool docs)."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "description": self.description,
            "category": self.category,
            "schema": self.model.model_json_schema(),
            "example": dict(self.example),
        }
        if self.kind == "connection":
            out["from_types"] = sorted(self.from_types)
            out["to_types"] = sorted(self.to_types)
        if self.unique_keys:
            out["unique_keys"] = list(self.unique_keys)
        return out


class TypeRegistry:
    """Lookup of every type by kind and name; the single source of truth for the store."""

    def __init__(self, specs: Iterable[TypeSpec]) -> None:
        self._specs: dict[Kind, dict[str, TypeSpec]] = {kind: {} for kind in KINDS}
        for spec in specs:
            table = self._specs[spec.kind]
            if spec.name in table:
                raise ValueError(f"duplicate {spec.kind} type {spec.name!r}")
            table[spec.name] = spec
        entity_names = set(self._specs["entity"])
        for spec in self._specs["connection"].values():
            unknown = (spec.from_types | spec.to_types) - entity_names
            if unknown or not spec.from_types or not spec.to_types:
                raise ValueError(f"connection {spec.name!r} has bad ends: {sorted(unknown)}")

    def get(self, kind: Kind, name: str) -> TypeSpec:
        """The spec of `name`, or InvalidInput naming the known types of that kind."""
        try:
            return self._specs[kind][name]
        except KeyError:
            raise InvalidInput(
                f"unknown {kind} type {name!r}; known {kind} types: {', '.join(sorted(self._specs[kind]))}"
            ) from None

    def names(self, kind: Kind) -> list[str]:
        """Every type name of one kind, in registry order."""
        return list(self._specs[kind])

    def specs(self, kind: Kind) -> list[TypeSpec]:
        """Every spec of one kind, in registry order."""
        return list(self._specs[kind].values())

    def check_connection_ends(self, relationship: str, from_type: str, to_type: str) -> TypeSpec:
        """The connection spec, or InvalidInput if its ends may not have these entity types."""
        spec = self.get("connection", relationship)
        if from_type not in spec.from_types or to_type not in spec.to_types:
            raise InvalidInput(
                f"connection {relationship!r} cannot go from a {from_type} to a {to_type}; "
                f"it goes from {_short(spec.from_types)} to {_short(spec.to_types)}"
            )
        return spec


def _shown(value: Any) -> str:
    """A value for an error message: its JSON-ish type and a short repr."""
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _short(names: frozenset[str]) -> str:
    listed = sorted(names)
    return ", ".join(listed) if len(listed) <= 8 else f"{', '.join(listed[:8])} (+{len(listed) - 8} more)"
