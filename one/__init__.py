"""ONE's composition root: settings, wiring (bootstrap) and the `one` CLI."""

__all__: list[str] = []
