"""The platform's Sui signing key and Sui's signature scheme (Ed25519 only).

Key formats: the Bech32 `suiprivkey1...` export of `sui keytool export` / wallets, and the base64
`flag || 32-byte secret` of `~/.sui/sui_config/sui.keystore`. The flag must be 0x00 (Ed25519).

Signing (Sui's "intent signing"): the message is the intent `[0, 0, 0]` (TransactionData, V0, Sui)
followed by the BCS transaction bytes; it is hashed with BLAKE2b-256 and the hash signed with
Ed25519; the serialized signature is `flag || signature || public key`, base64. The address is
BLAKE2b-256(flag || public key); a transaction's digest is base58(BLAKE2b-256("TransactionData::" ||
tx bytes)), so it is known before sending.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from providers.sui._rpc import SuiNotConfigured

__all__ = ["ED25519_FLAG", "SuiKey", "b58encode", "transaction_digest"]

ED25519_FLAG = 0x00
TRANSACTION_INTENT = bytes([0, 0, 0])
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_WHAT = "ONE_SUI_PRIVATE_KEY must be a suiprivkey1... (Bech32) or base64 flag||key Ed25519 private key"


def _blake2b(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def b58encode(data: bytes) -> str:
    """Bitcoin-alphabet base58 (Sui digests)."""
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, digit = divmod(number, 58)
        out = _B58[digit] + out
    return "1" * (len(data) - len(data.lstrip(b"\x00"))) + out


def transaction_digest(tx_bytes: bytes) -> str:
    """The digest Sui gives the transaction with these BCS bytes."""
    return b58encode(_blake2b(b"TransactionData::" + tx_bytes))


def _bech32_decode(text: str) -> tuple[str, bytes] | None:
    """(hrp, payload bytes) of a Bech32 string with a valid checksum, or None."""
    if text.lower() != text and text.upper() != text:
        return None
    text = text.lower()
    split = text.rfind("1")
    if split < 1 or split + 7 > len(text) or any(c not in _BECH32 for c in text[split + 1 :]):
        return None
    hrp, values = text[:split], [_BECH32.index(c) for c in text[split + 1 :]]
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    checksum = 1
    for value in expanded + values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate((0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)):
            checksum ^= generator if (top >> i) & 1 else 0
    if checksum != 1:
        return None
    accumulator, bits, out = 0, 0, bytearray()
    for value in values[:-6]:
        accumulator = (accumulator << 5) | value
        bits += 5
        while bits >= 8:
            bits -= 8
            out.append((accumulator >> bits) & 0xFF)
    if bits >= 5 or (accumulator << (8 - bits)) & 0xFF:
        return None
    return hrp, bytes(out)


class SuiKey:
    """An Ed25519 key that signs Sui transactions; `address` is its Sui address."""

    def __init__(self, secret: str) -> None:
        text = secret.strip() if isinstance(secret, str) else ""
        raw: bytes | None = None
        if text.lower().startswith("suiprivkey1"):
            decoded = _bech32_decode(text)
            raw = decoded[1] if decoded is not None and decoded[0] == "suiprivkey" else None
        elif text:
            try:
                raw = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raw = None
        if raw is None or len(raw) != 33:
            raise SuiNotConfigured(_WHAT)
        if raw[0] != ED25519_FLAG:
            raise SuiNotConfigured(f"{_WHAT}: this key's scheme flag is {raw[0]}, only Ed25519 (0) is supported")
        self._private = Ed25519PrivateKey.from_private_bytes(raw[1:])
        self.public_key = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.address = "0x" + _blake2b(bytes([ED25519_FLAG]) + self.public_key).hex()

    def sign_transaction(self, tx_bytes: bytes) -> str:
        """The serialized signature (base64 of flag || signature || public key) over the transaction."""
        signature = self._private.sign(_blake2b(TRANSACTION_INTENT + tx_bytes))
        return base64.b64encode(bytes([ED25519_FLAG]) + signature + self.public_key).decode()
