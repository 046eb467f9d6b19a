"""Chain sends: the intent (key, nonce, signed bytes, hash) stored before sending, and nonce counters
(tables chain_intents, chain_nonces)."""

from __future__ import annotations

from ontology.repositories._base import Repository


class ChainIntentRepository(Repository):
    """Chain sends."""
