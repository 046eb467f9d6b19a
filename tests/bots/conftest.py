"""Fixtures for the chat adapters: the graph fixtures (checkpointer, providers, a creator with a
clone) over this module's database."""

from tests.graphs.conftest import checkpointer, creator, providers  # noqa: F401  (fixtures)
