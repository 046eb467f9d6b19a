"""A fake Sui full node behind JSON-RPC (on `JsonRpcNode`) that checks the signatures it is sent.

`unsafe_moveCall` (0x2::coin::mint_and_transfer) and `unsafe_pay` build transaction bytes (opaque
to the client, as real BCS is; each build differs, as a new gas version would make it);
`sui_executeTransactionBlock` recomputes the digest from the bytes, verifies the serialized
Ed25519 signature (flag 0 || sig || pubkey) over BLAKE2b-256(intent [0,0,0] || bytes) and that the
public key's address is the sender, then applies the mint or payment to its coins, once per digest
(a repeat answers the stored effects). Each build names the sender's gas coin at its current
version and each execution moves it on, so older bytes become "not available for consumption"
(also what `sui_dryRunTransactionBlock` answers for them). A mint with a TreasuryCap the sender does not own or of
another coin fails with effects status "failure". Knobs: `lose_responses` (execute, then answer
-32603), `stall` (execute, then hold the answer), `publish(coin_type, owner)`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.providers.fakes.jsonrpc_node import JsonRpcNode, RpcFailure, b58encode

__all__ = ["SuiNode", "bech32_private_key"]

FRAMEWORK = "0x" + "0" * 63 + "2"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def bech32_private_key(flag_and_secret: bytes) -> str:
    """`suiprivkey1...`: Bech32 (not m) of flag || secret, as `sui keytool export` prints it."""
    hrp = "suiprivkey"
    values, accumulator, bits = [], 0, 0
    for byte in flag_and_secret:
        accumulator = (accumulator << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            values.append((accumulator >> bits) & 31)
    if bits:
        values.append((accumulator << (5 - bits)) & 31)

    def polymod(items: list[int]) -> int:
        checksum = 1
        for value in items:
            top = checksum >> 25
            checksum = (checksum & 0x1FFFFFF) << 5 ^ value
            for i, generator in enumerate((0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)):
                checksum ^= generator if (top >> i) & 1 else 0
        return checksum

    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    mod = polymod(expanded + values + [0] * 6) ^ 1
    checksum = [(mod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH32[v] for v in values + checksum)


def _blake2b(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def _long(type_tag: str) -> str:
    head, _, rest = type_tag.partition("::")
    return "0x" + head[2:].rjust(64, "0") + "::" + rest


@dataclass
class SuiNode:
    """The node's coins, caps and executed transactions, and its JSON-RPC methods."""

    node: JsonRpcNode
    checkpoint: int = 1000
    supply: dict[str, int] = field(default_factory=dict)
    balances: dict[tuple[str, str], int] = field(default_factory=dict)  # (owner, coin type) -> amount
    caps: dict[str, dict[str, str]] = field(default_factory=dict)  # cap id -> coin type, owner
    executed: dict[str, dict[str, Any]] = field(default_factory=dict)  # digest -> result
    applied: list[str] = field(default_factory=list)
    received: list[str] = field(default_factory=list)  # tx bytes of every execute call
    lose_responses: int = 0
    stall: threading.Event | None = None
    builds: int = 0
    digest_salt: bytes = b""
    gas_versions: dict[str, int] = field(default_factory=dict)  # sender -> its gas coin's version

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        for method in (
            "unsafe_moveCall",
            "unsafe_pay",
            "sui_executeTransactionBlock",
            "sui_getTransactionBlock",
            "suix_getBalance",
            "suix_getTotalSupply",
            "suix_getCoins",
            "suix_getOwnedObjects",
            "sui_getObject",
            "sui_dryRunTransactionBlock",
        ):
            self.node.answer(method, getattr(self, f"_{method}"))

    def publish(self, coin_type: str, owner: str) -> str:
        """A published coin: its TreasuryCap (an object id) is owned by `owner`."""
        cap = "0x" + hashlib.sha256(f"cap|{coin_type}".encode()).hexdigest()
        self.caps[cap] = {"coin_type": _long(coin_type), "owner": owner}
        self.supply[_long(coin_type)] = 0
        return cap

    def digest(self, raw: bytes) -> str:
        """The node's digest of transaction bytes (`digest_salt` makes it disagree with the client's)."""
        return b58encode(_blake2b(self.digest_salt + b"TransactionData::" + raw))

    def balance(self, owner: str, coin_type: str) -> int:
        return self.balances.get((owner, _long(coin_type)), 0)

    def executions(self) -> int:
        return self.node.methods().count("sui_executeTransactionBlock")

    # -- building ----------------------------------------------------------------------------------

    def _built(self, body: dict[str, Any]) -> dict[str, Any]:
        self.builds += 1
        gas = {"objectId": self._gas_coin(body["sender"]), "version": self.gas_versions.get(body["sender"], 1)}
        raw = b"\x00" + json.dumps({**body, "gas": gas}, sort_keys=True).encode()
        return {"txBytes": base64.b64encode(raw).decode(), "gas": [gas], "inputObjects": []}

    @staticmethod
    def _gas_coin(owner: str) -> str:
        return "0x" + hashlib.sha256(f"gas|{owner}".encode()).hexdigest()

    def _stale(self, body: dict[str, Any]) -> RpcFailure | None:
        current = self.gas_versions.get(body["sender"], 1)
        if body["gas"]["version"] == current:
            return None
        return RpcFailure(
            -32002,
            "Transaction validator signing failed due to issues with transaction inputs: "
            f"Object ID {body['gas']['objectId']} Version {body['gas']['version']} is not available for "
            f"consumption, current version: {current} (ObjectVersionUnavailableForConsumption)",
        )

    def _sui_dryRunTransactionBlock(self, params: list[Any]) -> Any:
        body = json.loads(base64.b64decode(params[0])[1:])
        stale = self._stale(body)
        if stale is not None:
            return stale
        digest = self.digest(base64.b64decode(params[0]))
        effects = {"status": {"status": "success"}, "transactionDigest": digest}
        return {"effects": effects, "events": [], "balanceChanges": []}

    def _unsafe_moveCall(self, params: list[Any]) -> Any:
        sender, package, module, function, types, args, _gas, budget = params
        if (package, module, function) not in (
            ("0x2", "coin", "mint_and_transfer"),
            (FRAMEWORK, "coin", "mint_and_transfer"),
        ):
            return RpcFailure(-32602, f"function {package}::{module}::{function} not supported by the fake")
        if len(types) != 1 or len(args) != 3 or int(budget) <= 0:
            return RpcFailure(-32602, "Invalid params: mint_and_transfer<T>(cap, amount, recipient)")
        cap, amount, recipient = args
        return self._built(
            {
                "kind": "mint",
                "sender": sender,
                "coin_type": _long(types[0]),
                "cap": cap,
                "amount": int(amount),
                "to": recipient,
            }
        )

    def _unsafe_pay(self, params: list[Any]) -> Any:
        sender, coins, recipients, amounts, _gas, _budget = params
        if len(recipients) != 1 or len(amounts) != 1 or not coins:
            return RpcFailure(-32602, "Invalid params")
        owner, coin_type = self._coin_objects[coins[0]]
        if owner != sender:
            return RpcFailure(-32602, f"Object {coins[0]} is not owned by {sender}")
        return self._built(
            {"kind": "pay", "sender": sender, "coin_type": coin_type, "amount": int(amounts[0]), "to": recipients[0]}
        )

    # -- executing ---------------------------------------------------------------------------------

    def _sui_executeTransactionBlock(self, params: list[Any]) -> Any:
        tx_b64, signatures, options, request_type = params
        assert options == {"showEffects": True} and request_type == "WaitForLocalExecution"
        raw = base64.b64decode(tx_b64)
        body = json.loads(raw[1:])
        with self._lock:
            self.received.append(tx_b64)
            serialized = base64.b64decode(signatures[0])
            flag, signature, public = serialized[0], serialized[1:65], serialized[65:]
            if flag != 0 or len(public) != 32 or "0x" + _blake2b(b"\x00" + public).hex() != body["sender"]:
                return RpcFailure(-32002, "Invalid user signature: signer is not the sender")
            try:
                Ed25519PublicKey.from_public_bytes(public).verify(signature, _blake2b(b"\x00\x00\x00" + raw))
            except InvalidSignature:
                return RpcFailure(-32002, "Invalid user signature: Signature is not valid")
            digest = self.digest(raw)
            if digest not in self.executed:
                stale = self._stale(body)
                if stale is not None:
                    return stale
                self.gas_versions[body["sender"]] = body["gas"]["version"] + 1  # gas is charged either way
                error = self._apply(body)
                self.checkpoint += 1
                status = {"status": "success"} if error is None else {"status": "failure", "error": error}
                gas = {"computationCost": "1000000", "storageCost": "2000000", "storageRebate": "500000"}
                self.executed[digest] = {
                    "digest": digest,
                    "effects": {"status": status, "gasUsed": gas, "transactionDigest": digest},
                    "checkpoint": str(self.checkpoint),
                    "confirmedLocalExecution": True,
                }
                if error is None:
                    self.applied.append(digest)
            lose = self.lose_responses > 0
            if lose:
                self.lose_responses -= 1
        if self.stall is not None:
            self.stall.wait(3)
        if lose:
            return RpcFailure(-32603, "Internal error: the answer was lost")
        return self.executed[digest]

    def _apply(self, body: dict[str, Any]) -> str | None:
        coin_type, amount, to, sender = body["coin_type"], body["amount"], body["to"], body["sender"]
        if body["kind"] == "mint":
            cap = self.caps.get(body["cap"])
            if cap is None or cap["owner"] != sender or cap["coin_type"] != coin_type:
                return "MoveAbort: the TreasuryCap is not the sender's cap of this coin"
            self.supply[coin_type] += amount
        else:
            if self.balances.get((sender, coin_type), 0) < amount:
                return "InsufficientCoinBalance"
            self.balances[(sender, coin_type)] -= amount
        self.balances[(to, coin_type)] = self.balances.get((to, coin_type), 0) + amount
        return None

    # -- reading -----------------------------------------------------------------------------------

    @property
    def _coin_objects(self) -> dict[str, tuple[str, str]]:
        return {"0x" + hashlib.sha256(f"coin|{o}|{t}".encode()).hexdigest(): (o, t) for (o, t) in self.balances}

    def _sui_getTransactionBlock(self, params: list[Any]) -> Any:
        if params[0] not in self.executed:
            return RpcFailure(-32602, f"Could not find the referenced transaction [TransactionDigest({params[0]})].")
        return self.executed[params[0]]

    def _suix_getBalance(self, params: list[Any]) -> Any:
        amount = self.balances.get((params[0], _long(params[1])), 0)
        return {
            "coinType": params[1],
            "coinObjectCount": 1 if amount else 0,
            "totalBalance": str(amount),
            "lockedBalance": {},
        }

    def _suix_getTotalSupply(self, params: list[Any]) -> Any:
        if _long(params[0]) not in self.supply:
            return RpcFailure(-32602, f"Cannot find object with type [{params[0]}]")
        return {"value": str(self.supply[_long(params[0])])}

    def _suix_getCoins(self, params: list[Any]) -> Any:
        owner, coin_type = params[0], _long(params[1])
        data = [
            {"coinType": coin_type, "coinObjectId": object_id, "version": "1", "balance": str(self.balances[(o, t)])}
            for object_id, (o, t) in self._coin_objects.items()
            if o == owner and t == coin_type and self.balances[(o, t)] > 0
        ]
        return {"data": data, "nextCursor": None, "hasNextPage": False}

    def _suix_getOwnedObjects(self, params: list[Any]) -> Any:
        owner, query = params[0], params[1]
        struct = query["filter"]["StructType"]
        data = [
            {"data": {"objectId": cap_id, "type": f"{FRAMEWORK}::coin::TreasuryCap<{cap['coin_type']}>"}}
            for cap_id, cap in self.caps.items()
            if cap["owner"] == owner and _long(struct.split("<", 1)[1][:-1]) == cap["coin_type"]
        ]
        return {"data": data, "nextCursor": None, "hasNextPage": False}

    def _sui_getObject(self, params: list[Any]) -> Any:
        cap = self.caps.get(params[0])
        if cap is None:
            return {"error": {"code": "notExists", "object_id": params[0]}}
        return {
            "data": {
                "objectId": params[0],
                "type": f"{FRAMEWORK}::coin::TreasuryCap<{cap['coin_type']}>",
                "owner": {"AddressOwner": cap["owner"]},
            }
        }
