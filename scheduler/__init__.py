"""scheduler: built by later issues (see ARCHITECTURE.md)."""

__all__: list[str] = []
