"""The one error tree of ONE. Every error the platform raises on purpose descends from `OneError`.

    OneError
    ├── OntologyError                  the store and the type registry
    │   ├── NotFound                   no live row with that id (or a missing connection end)
    │   ├── InvalidInput               unknown type, wrong property types, disallowed ends, oversize, NUL...
    │   │   └── EmbeddingMismatch      the knowledge index was built by another embedder or dimension
    │   ├── ConstraintViolation        a unique key (creator email/handle, tag) is already taken
    │   └── TransactionFailed          the database refused or lost the transaction (reason kept)
    └── ProviderError                  external services (see providers/errors.py for the subtree)

Foreign exceptions (SQLAlchemy, psycopg) are translated at one edge, `ontology.store`, with
`raise ... from` so the original stays on `__cause__` for the log while the user sees `str(error)`.
"""

from __future__ import annotations

__all__ = [
    "ConstraintViolation",
    "EmbeddingMismatch",
    "InvalidInput",
    "NotFound",
    "OneError",
    "OntologyError",
    "ProviderError",
    "TransactionFailed",
]


class OneError(Exception):
    """Root of every error ONE raises on purpose; `str()` is a message fit for a user."""


class OntologyError(OneError):
    """An error from the ontology: the type registry or the store."""


class NotFound(OntologyError):
    """The row asked for does not exist (or was soft-deleted)."""


class InvalidInput(OntologyError):
    """The input breaks a rule of the registry or a size/character limit; nothing was written."""


class EmbeddingMismatch(InvalidInput):
    """Vectors from one embedder were about to be compared with an index built by another."""


class ConstraintViolation(OntologyError):
    """A uniqueness or integrity rule of the database refused the write; nothing was written."""


class TransactionFailed(OntologyError):
    """The database failed the transaction for a reason of its own (kept in the message)."""


class ProviderError(OneError):
    """Root of the errors raised by external-service providers."""
