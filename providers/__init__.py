"""Providers: one module per external service (a Protocol, typed errors, live + local implementations)."""

__all__: list[str] = []
