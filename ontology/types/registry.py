"""Types as data: one registry holds every entity, connection and event type of the ontology.

A type is a name, a description, a pydantic model for its properties (entities) or metadata
(connections, events) and an example payload. Connection types also name the entity types
allowed at each end. The store validates every write against this registry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ontology.errors import InvalidInput

Kind = Literal["entity", "connection", "event"]
KINDS: tuple[Kind, ...] = ("entity", "connection", "event")


class Payload(BaseModel):
    """Base of every properties/metadata model: known keys are typed, other keys are kept as given."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


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
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in error.errors()
            )
            raise InvalidInput(f"{self.kind} {self.name!r}: {problems}") from error
        return model.model_dump(mode="json", by_alias=True, exclude_none=True)

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


def _short(names: frozenset[str]) -> str:
    listed = sorted(names)
    return ", ".join(listed) if len(listed) <= 8 else f"{', '.join(listed[:8])} (+{len(listed) - 8} more)"
