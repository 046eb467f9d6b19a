"""A fake Solana cluster behind JSON-RPC (on `JsonRpcNode`) that checks what it is sent.

`sendTransaction` decodes the wire transaction with solders, verifies every signature against the
message's public keys (and that the fee payer is the expected one), refuses an unknown or expired
blockhash, and applies the System / SPL Token / Associated Token Account instructions it knows
(CreateAccount, InitializeMint2, CreateIdempotent, MintToChecked, TransferChecked) to its own mints
and token accounts, atomically: a failing instruction records `err` and changes nothing. The same
signature is processed once. Knobs: `drop_sends` (accept and forget), `lose_responses` (apply, then
answer -32603 as if the answer was lost), `stall` (apply, then hold the answer: a client timeout),
`preflight` (simulate and refuse failing transactions with -32002 instead of landing them),
`expire_blockhashes()`.
"""

from __future__ import annotations

import base64
import copy
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.token.associated import get_associated_token_address
from solders.transaction import Transaction

from tests.providers.fakes.jsonrpc_node import JsonRpcNode, RpcFailure

__all__ = ["SolanaCluster"]

TOKEN = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
ATA = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
RENT_82 = 1_461_600


class _Failed(Exception):
    def __init__(self, index: int, error: Any) -> None:
        super().__init__(str(error))
        self.err = {"InstructionError": [index, error]}


@dataclass
class SolanaCluster:
    """The cluster's state and the JSON-RPC methods over it."""

    node: JsonRpcNode
    payer: Pubkey
    slot: int = 100
    mints: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # token accounts
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: list[str] = field(default_factory=list)  # every sendTransaction payload, in order
    applied: list[str] = field(default_factory=list)  # signatures that changed state
    valid_blockhashes: set[str] = field(default_factory=set)
    blockhash: str = ""
    drop_sends: int = 0
    lose_responses: int = 0
    stall: threading.Event | None = None
    preflight: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._new_blockhash()
        for method in (
            "getLatestBlockhash",
            "isBlockhashValid",
            "sendTransaction",
            "getSignatureStatuses",
            "getTokenSupply",
            "getTokenAccountsByOwner",
            "getTokenAccountBalance",
            "getMinimumBalanceForRentExemption",
            "getAccountInfo",
        ):
            self.node.answer(method, getattr(self, f"_{method}"))

    # -- test controls -----------------------------------------------------------------------------

    def expire_blockhashes(self) -> None:
        """Every blockhash handed out so far is now too old; a new one is current."""
        self.valid_blockhashes.clear()
        self._new_blockhash()

    def add_foreign_mint(self, mint: Pubkey, decimals: int = 6) -> None:
        """A mint whose authority is someone else: minting to it fails on chain."""
        self.mints[str(mint)] = {"decimals": decimals, "supply": 0, "authority": str(Pubkey.new_unique())}

    def balance(self, owner: Pubkey | str, mint: Pubkey | str) -> int:
        ata = get_associated_token_address(Pubkey.from_string(str(owner)), Pubkey.from_string(str(mint)), TOKEN)
        return int(self.accounts.get(str(ata), {}).get("amount", 0))

    def sends(self) -> int:
        return self.node.methods().count("sendTransaction")

    # -- JSON-RPC methods --------------------------------------------------------------------------

    def _ctx(self) -> dict[str, Any]:
        return {"slot": self.slot, "apiVersion": "2.1.0"}

    def _new_blockhash(self) -> None:
        self.slot += 1
        self.blockhash = str(Hash.new_unique())
        self.valid_blockhashes.add(self.blockhash)

    def _getLatestBlockhash(self, params: list[Any]) -> Any:
        return {"context": self._ctx(), "value": {"blockhash": self.blockhash, "lastValidBlockHeight": self.slot + 150}}

    def _isBlockhashValid(self, params: list[Any]) -> Any:
        return {"context": self._ctx(), "value": params[0] in self.valid_blockhashes}

    def _getMinimumBalanceForRentExemption(self, params: list[Any]) -> Any:
        return RENT_82 if params[0] == 82 else 890_880 + 6_960 * int(params[0])

    def _getSignatureStatuses(self, params: list[Any]) -> Any:
        assert params[1] == {"searchTransactionHistory": True}
        return {"context": self._ctx(), "value": [self.statuses.get(s) for s in params[0]]}

    def _getTokenSupply(self, params: list[Any]) -> Any:
        mint = self.mints.get(params[0])
        if mint is None:
            return RpcFailure(-32602, "Invalid param: not a Token mint")
        return {"context": self._ctx(), "value": {"amount": str(mint["supply"]), "decimals": mint["decimals"]}}

    def _getTokenAccountBalance(self, params: list[Any]) -> Any:
        account = self.accounts.get(params[0])
        if account is None:
            return RpcFailure(-32602, "Invalid param: could not find account")
        decimals = self.mints[account["mint"]]["decimals"]
        return {"context": self._ctx(), "value": {"amount": str(account["amount"]), "decimals": decimals}}

    def _getAccountInfo(self, params: list[Any]) -> Any:
        if params[0] in self.mints:
            return {"context": self._ctx(), "value": {"owner": str(TOKEN), "lamports": RENT_82, "executable": False}}
        return {"context": self._ctx(), "value": None}

    def _getTokenAccountsByOwner(self, params: list[Any]) -> Any:
        owner, mint = params[0], params[1]["mint"]
        found = [
            {
                "pubkey": address,
                "account": {
                    "owner": str(TOKEN),
                    "data": {
                        "program": "spl-token",
                        "parsed": {
                            "type": "account",
                            "info": {
                                "mint": mint,
                                "owner": owner,
                                "tokenAmount": {
                                    "amount": str(account["amount"]),
                                    "decimals": self.mints[mint]["decimals"],
                                },
                            },
                        },
                    },
                },
            }
            for address, account in self.accounts.items()
            if account["owner"] == owner and account["mint"] == mint
        ]
        return {"context": self._ctx(), "value": found}

    def _sendTransaction(self, params: list[Any]) -> Any:
        assert params[1]["encoding"] == "base64"
        with self._lock:
            self.received.append(params[0])
            tx = Transaction.from_bytes(base64.b64decode(params[0]))
            try:
                tx.verify()
            except Exception:
                return RpcFailure(-32003, "Transaction signature verification failure")
            message = tx.message
            if message.account_keys[0] != self.payer:
                return RpcFailure(-32003, "Transaction fee payer is not the expected key")
            signature = str(tx.signatures[0])
            if signature in self.statuses:
                return RpcFailure(
                    -32002,
                    "Transaction simulation failed: This transaction has already been processed",
                    {"err": "AlreadyProcessed"},
                )
            if str(message.recent_blockhash) not in self.valid_blockhashes:
                return RpcFailure(-32002, "Transaction simulation failed: Blockhash not found", {"err": "BlockhashNotFound"})
            if self.drop_sends:
                self.drop_sends -= 1
                return signature  # accepted by the RPC node, never landed
            err = self._execute(tx)
            if err is not None and self.preflight:
                return RpcFailure(-32002, f"Transaction simulation failed: {err}", {"err": err})
            self.slot += 1
            self.statuses[signature] = {
                "slot": self.slot,
                "confirmations": None,
                "err": err,
                "status": {"Ok": None} if err is None else {"Err": err},
                "confirmationStatus": "confirmed",
            }
            if err is None:
                self.applied.append(signature)
            lose = self.lose_responses > 0
            if lose:
                self.lose_responses -= 1
        if self.stall is not None:
            self.stall.wait(3)
        if lose:
            return RpcFailure(-32603, "Internal error: the answer was lost")
        return signature

    # -- execution ---------------------------------------------------------------------------------

    def _execute(self, tx: Transaction) -> Any:
        """Run the instructions on a copy of the state; keep it only if all succeed. Returns `err`."""
        mints, accounts = copy.deepcopy(self.mints), copy.deepcopy(self.accounts)
        message = tx.message
        keys = message.account_keys
        signers = {str(keys[i]) for i in range(message.header.num_required_signatures)}
        try:
            for index, ix in enumerate(message.instructions):
                program = keys[ix.program_id_index]
                metas = [str(keys[i]) for i in ix.accounts]
                self._instruction(index, program, metas, bytes(ix.data), signers, mints, accounts)
        except _Failed as failure:
            return failure.err
        self.mints, self.accounts = mints, accounts
        return None

    def _instruction(
        self,
        index: int,
        program: Pubkey,
        metas: list[str],
        data: bytes,
        signers: set[str],
        mints: dict[str, dict[str, Any]],
        accounts: dict[str, dict[str, Any]],
    ) -> None:
        if program == SYSTEM_PROGRAM_ID:
            tag, lamports, space = struct.unpack_from("<IQQ", data)
            owner = Pubkey.from_bytes(data[20:52])
            if tag != 0 or not {metas[0], metas[1]} <= signers:
                raise _Failed(index, "MissingRequiredSignature")
            if metas[1] in mints or lamports < RENT_82 or space != 82 or owner != TOKEN:
                raise _Failed(index, {"Custom": 0})  # AccountAlreadyInUse
            mints[metas[1]] = {"decimals": None, "supply": 0, "authority": None}
        elif program == ATA:
            payer, ata, wallet, mint = metas[:4]
            expected = get_associated_token_address(Pubkey.from_string(wallet), Pubkey.from_string(mint), TOKEN)
            if data != b"\x01" or str(expected) != ata or payer not in signers or mint not in mints:
                raise _Failed(index, "InvalidSeeds")
            accounts.setdefault(ata, {"mint": mint, "owner": wallet, "amount": 0})
        elif program == TOKEN:
            self._token(index, metas, data, signers, mints, accounts)
        else:
            raise _Failed(index, "UnsupportedProgramId")

    def _token(
        self,
        index: int,
        metas: list[str],
        data: bytes,
        signers: set[str],
        mints: dict[str, dict[str, Any]],
        accounts: dict[str, dict[str, Any]],
    ) -> None:
        tag = data[0]
        if tag == 20:  # InitializeMint2
            mint = mints.get(metas[0])
            if mint is None or mint["decimals"] is not None:
                raise _Failed(index, {"Custom": 6})  # AlreadyInUse / uninitialized
            mint.update(decimals=data[1], authority=str(Pubkey.from_bytes(data[2:34])))
        elif tag == 14:  # MintToChecked
            amount, decimals = struct.unpack_from("<QB", data, 1)
            mint, destination, authority = mints.get(metas[0]), accounts.get(metas[1]), metas[2]
            if mint is None or destination is None or destination["mint"] != metas[0]:
                raise _Failed(index, {"Custom": 3})  # MintMismatch
            if mint["authority"] != authority or authority not in signers:
                raise _Failed(index, {"Custom": 4})  # OwnerMismatch
            if decimals != mint["decimals"]:
                raise _Failed(index, {"Custom": 18})  # MintDecimalsMismatch
            destination["amount"] += amount
            mint["supply"] += amount
        elif tag == 12:  # TransferChecked
            amount, decimals = struct.unpack_from("<QB", data, 1)
            source, destination = accounts.get(metas[0]), accounts.get(metas[2])
            if source is None or destination is None or source["mint"] != metas[1] or destination["mint"] != metas[1]:
                raise _Failed(index, {"Custom": 3})
            if source["owner"] != metas[3] or metas[3] not in signers:
                raise _Failed(index, {"Custom": 4})
            if decimals != mints[metas[1]]["decimals"]:
                raise _Failed(index, {"Custom": 18})
            if source["amount"] < amount:
                raise _Failed(index, {"Custom": 1})  # InsufficientFunds
            source["amount"] -= amount
            destination["amount"] += amount
        else:
            raise _Failed(index, "InvalidInstructionData")
