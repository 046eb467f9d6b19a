"""Input limits checked before anything reaches the database.

PostgreSQL takes a 1 MB JSONB value silently and fails on a NUL byte with a driver error, so
sizes and characters are enforced here and reported as InvalidInput.
"""

from __future__ import annotations

import json
from typing import Any

from ontology.errors import InvalidInput

MAX_NAME_CHARS = 500
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_TAG_CHARS = 200
MAX_LIMIT = 1000
MAX_QUERY_CHARS = 2000


def clean_text(value: object, field: str, *, max_chars: int, allow_empty: bool = False) -> str:
    """The string itself if it is a non-empty, NUL-free string within `max_chars`; else InvalidInput."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string, not {type(value).__name__}")
    if "\x00" in value:
        raise InvalidInput(f"{field} contains a NUL byte (\\x00), which cannot be stored")
    if not allow_empty and not value.strip():
        raise InvalidInput(f"{field} must not be empty")
    if len(value) > max_chars:
        raise InvalidInput(f"{field} is {len(value):,} characters long; the limit is {max_chars:,}")
    return value


def clean_payload(payload: dict[str, Any], field: str) -> dict[str, Any]:
    """The payload if it serialises to at most MAX_PAYLOAD_BYTES of JSON without NUL characters."""
    try:
        encoded = json.dumps(payload, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"{field} is not valid JSON: {error}") from error
    if "\x00" in encoded or "\\u0000" in encoded:
        raise InvalidInput(f"{field} contains a NUL character (\\u0000), which cannot be stored")
    size = len(encoded.encode())
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidInput(f"{field} is {size:,} bytes of JSON; the limit is {MAX_PAYLOAD_BYTES:,}")
    return payload


def clean_limit(limit: int) -> int:
    """A page size between 1 and MAX_LIMIT."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
    return limit
