"""Media in storage: bytes go to the aws provider (S3 + CloudFront, or its local twin), then a
`media_asset` entity the creator owns and `content_changed uploaded`, in one unit of work.

The upload comes first: a crash after it leaves an orphan object in the bucket (harmless, under the
creator's prefix) but never an asset pointing at nothing.
"""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ontology import Entity, InvalidInput, Store, UnitOfWork
from providers.aws import MediaStorage

__all__ = ["EXTENSIONS", "StoredAsset", "guess_content_type", "store_asset"]

EXTENSIONS = {"audio/mpeg": "mp3", "audio/wav": "wav", "audio/x-wav": "wav", "audio/ogg": "ogg", "image/png": "png",
              "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif", "video/mp4": "mp4",
              "video/webm": "webm", "video/quicktime": "mov", "application/pdf": "pdf"}  # fmt: skip


@dataclass(frozen=True)
class StoredAsset:
    """An asset in storage and in the ontology."""

    entity: Entity
    key: str
    url: str


def guess_content_type(filename: str) -> str:
    """The MIME type of a file name's extension (application/octet-stream when unknown)."""
    guessed, _ = mimetypes.guess_type(filename)
    return guessed or "application/octet-stream"


def store_asset(
    store: Store,
    storage: MediaStorage,
    *,
    creator_id: uuid.UUID,
    actor_id: uuid.UUID,
    kind: str,
    data: bytes,
    content_type: str,
    name: str,
    properties: dict[str, Any] | None = None,
    also: Callable[[UnitOfWork, Entity], None] | None = None,
) -> StoredAsset:
    """Upload `data` under the creator's prefix, then write the media_asset (owned by the creator),
    `content_changed uploaded`, and whatever `also(uow, asset)` adds, together."""
    if not data:
        raise InvalidInput("the file is empty: nothing to upload")
    extension = EXTENSIONS.get(content_type) or Path(str((properties or {}).get("filename") or "")).suffix.lstrip(".")
    key = f"creators/{creator_id}/{kind}/{uuid.uuid4().hex}.{(extension or 'bin')[:10].lower()}"
    url = storage.upload(key, data, content_type)
    with store.unit_of_work() as uow:
        asset = uow.entities.insert(
            "media_asset",
            name[:200] or kind,
            {"key": key, "url": url, "contentType": content_type, "sizeBytes": len(data), "kind": kind,
             **(properties or {})},
        )  # fmt: skip
        uow.connections.insert(creator_id, asset.id, "owns", {"revenueShare": 1.0})
        uow.events.insert(
            "content_changed",
            actor_id=actor_id,
            target_id=asset.id,
            metadata={"action": "uploaded", "contentType": "media_asset", "kind": kind},
        )
        if also is not None:
            also(uow, asset)
        uow.commit()
    return StoredAsset(asset, key, url)
