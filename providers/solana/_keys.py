"""The platform's Solana signing key: a base58 64-byte secret (Phantom / `solana-keygen` export) or
the JSON byte array of a `solana-keygen` key file. Messages never contain the key."""

from __future__ import annotations

import json

from solders.keypair import Keypair

from providers.jsonrpc import b58decode
from providers.solana._rpc import SolanaNotConfigured

__all__ = ["load_keypair"]

_WHAT = "ONE_SOLANA_PRIVATE_KEY must be a base58 64-byte secret key or a solana-keygen JSON byte array"


def load_keypair(secret: str) -> Keypair:
    """The Ed25519 keypair in `secret`; SolanaNotConfigured (naming the formats) otherwise."""
    text = secret.strip() if isinstance(secret, str) else ""
    raw: bytes | None
    if text.startswith("["):
        try:
            numbers = json.loads(text)
            raw = bytes(numbers) if isinstance(numbers, list) and all(isinstance(n, int) for n in numbers) else None
        except (ValueError, TypeError):
            raw = None
    else:
        raw = b58decode(text)
    if raw is None or len(raw) != 64:  # 32 bytes would be a public key pasted by mistake
        raise SolanaNotConfigured(_WHAT)
    try:
        keypair = Keypair.from_bytes(raw)
    except (ValueError, BaseException) as error:  # solders raises its own errors for a mismatched half
        raise SolanaNotConfigured(f"{_WHAT} (its public half does not match its secret)") from error
    if bytes(keypair.pubkey()) != raw[32:]:
        raise SolanaNotConfigured(f"{_WHAT} (its public half does not match its secret)")
    return keypair
