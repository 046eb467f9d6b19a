"""Where each platform's stream was read up to (Telegram's update offset, Discord's last message)."""

from __future__ import annotations

from sqlalchemy import Numeric, Text, func, select
from sqlalchemy.dialects.postgresql import insert

from ontology import tables as t
from ontology.repositories._base import Repository


class CursorRepository(Repository):
    """Named positions that survive restarts."""

    def get(self, name: str) -> str | None:
        """The position stored under `name`, or None before the first one."""
        return self._uow.execute(select(t.platform_cursors.c.value).where(t.platform_cursors.c.name == name)).scalar()

    def put(self, name: str, value: str) -> None:
        """Store a position (replacing the old one)."""
        statement = insert(t.platform_cursors).values(name=name, value=value)
        self._uow.execute(
            statement.on_conflict_do_update(
                index_elements=["name"], set_={"value": statement.excluded.value, "updated_at": func.now()}
            )
        )

    def advance(self, name: str, value: int) -> int:
        """Move a numeric position forward only (a late writer never moves it back); returns it."""
        statement = insert(t.platform_cursors).values(name=name, value=str(value))
        stored = t.platform_cursors.c.value.cast(Numeric())
        row = self._uow.execute(
            statement.on_conflict_do_update(
                index_elements=["name"],
                set_={
                    "value": func.greatest(stored, statement.excluded.value.cast(Numeric())).cast(Text()),
                    "updated_at": func.now(),
                },
            ).returning(t.platform_cursors.c.value)
        ).scalar_one()
        return int(row)

    def names(self, prefix: str) -> dict[str, str]:
        """Every position whose name starts with `prefix` (e.g. all Discord channels of one bot)."""
        rows = self._uow.execute(
            select(t.platform_cursors.c.name, t.platform_cursors.c.value).where(
                t.platform_cursors.c.name.startswith(prefix, autoescape=True)
            )
        )
        return {str(row.name): str(row.value) for row in rows}
