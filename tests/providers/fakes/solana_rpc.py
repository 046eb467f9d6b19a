"""A fake Solana cluster behind JSON-RPC (on `JsonRpcNode`) that runs what it is sent in LiteSVM.

LiteSVM (`solders.litesvm`) is Solana's in-process runtime with the real System, SPL Token and
Associated Token Account programs, so the byte layouts we build are executed by the programs
themselves. Blockhashes are the fake's own: each `getLatestBlockhash` hands out a new one, valid
until `expire_blockhashes()`. `sendTransaction` decodes the wire transaction, verifies every
signature against the message's public keys and that the fee payer is the expected one, refuses an
unknown or expired blockhash, and processes one signature once (a repeat answers "already been processed", as a node's
preflight does). Knobs: `drop_sends` (accept and forget), `lose_responses` (process, then answer
-32603 as if the answer was lost), `stall` (process, then hold the answer: a client timeout),
`preflight` (simulate and refuse failing transactions with -32002 instead of landing them),
`expire_blockhashes()`.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass, field
from typing import Any

from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, create_account
from solders.token.associated import get_associated_token_address
from solders.token.state import Mint, TokenAccount
from solders.transaction import Transaction
from solders.transaction_metadata import FailedTransactionMetadata
from solders.transaction_status import InstructionErrorCustom, TransactionErrorInstructionError

from tests.providers.fakes.jsonrpc_node import JsonRpcNode, RpcFailure

__all__ = ["SolanaCluster"]

TOKEN = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")


def _rpc_error(error: Any) -> Any:
    """A LiteSVM transaction error as the RPC's `err` JSON ({"InstructionError": [1, {"Custom": 4}]})."""
    if isinstance(error, TransactionErrorInstructionError):
        inner = error.err
        detail: Any = {"Custom": inner.code} if isinstance(inner, InstructionErrorCustom) else str(inner).split(".")[-1]
        return {"InstructionError": [error.index, detail]}
    return str(error).split(".")[-1]


@dataclass
class SolanaCluster:
    """LiteSVM's accounts, our statuses and blockhashes, and the JSON-RPC methods over them."""

    node: JsonRpcNode
    payer: Pubkey
    slot: int = 100
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: list[str] = field(default_factory=list)  # every sendTransaction payload, in order
    applied: list[str] = field(default_factory=list)  # signatures that succeeded
    valid_blockhashes: set[str] = field(default_factory=set)
    drop_sends: int = 0
    lose_responses: int = 0
    stall: threading.Event | None = None
    preflight: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        # blockhashes are ours: a new one per getLatestBlockhash, all valid until expire_blockhashes()
        self.svm = LiteSVM().with_blockhash_check(False)
        self.svm.airdrop(self.payer, 100 * 10**9)
        for method in (
            "getLatestBlockhash",
            "isBlockhashValid",
            "sendTransaction",
            "getSignatureStatuses",
            "getTokenSupply",
            "getTokenAccountsByOwner",
            "getMinimumBalanceForRentExemption",
        ):
            self.node.answer(method, getattr(self, f"_{method}"))

    # -- test controls and views -------------------------------------------------------------------

    def expire_blockhashes(self) -> None:
        """Every blockhash handed out so far is now too old; a new one is current."""
        with self._lock:
            self.valid_blockhashes = set()

    def add_foreign_mint(self, decimals: int = 6) -> Pubkey:
        """A real mint whose authority is someone else: minting to it fails on chain."""
        owner, mint = Keypair(), Keypair()
        self.svm.airdrop(owner.pubkey(), 10**9)
        rent = self.svm.minimum_balance_for_rent_exemption(82)
        create = CreateAccountParams(
            from_pubkey=owner.pubkey(), to_pubkey=mint.pubkey(), lamports=rent, space=82, owner=TOKEN
        )
        data = bytes([20, decimals]) + bytes(owner.pubkey()) + b"\x00"  # InitializeMint2
        init = Instruction(TOKEN, data, [AccountMeta(mint.pubkey(), is_signer=False, is_writable=True)])
        tx = Transaction.new_signed_with_payer(
            [create_account(create), init], owner.pubkey(), [owner, mint], self.svm.latest_blockhash()
        )
        assert not isinstance(self.svm.send_transaction(tx), FailedTransactionMetadata)
        return mint.pubkey()

    def mint_state(self, mint: Pubkey | str) -> Mint | None:
        account = self.svm.get_account(Pubkey.from_string(str(mint)))
        return None if account is None or account.owner != TOKEN else Mint.from_bytes(bytes(account.data)[:82])

    def balance(self, owner: Pubkey | str, mint: Pubkey | str) -> int:
        ata = get_associated_token_address(Pubkey.from_string(str(owner)), Pubkey.from_string(str(mint)), TOKEN)
        account = self.svm.get_account(ata)
        return 0 if account is None else TokenAccount.from_bytes(bytes(account.data)).amount

    def sends(self) -> int:
        return self.node.methods().count("sendTransaction")

    # -- JSON-RPC methods --------------------------------------------------------------------------

    def _ctx(self) -> dict[str, Any]:
        return {"slot": self.slot, "apiVersion": "2.1.0"}

    def _getLatestBlockhash(self, params: list[Any]) -> Any:
        with self._lock:  # a cluster makes a new blockhash every slot; older ones stay valid a while
            self.slot += 1
            blockhash = str(Hash.new_unique())
            self.valid_blockhashes.add(blockhash)
        return {"context": self._ctx(), "value": {"blockhash": blockhash, "lastValidBlockHeight": self.slot + 150}}

    def _isBlockhashValid(self, params: list[Any]) -> Any:
        return {"context": self._ctx(), "value": params[0] in self.valid_blockhashes}

    def _getMinimumBalanceForRentExemption(self, params: list[Any]) -> Any:
        return self.svm.minimum_balance_for_rent_exemption(int(params[0]))

    def _getSignatureStatuses(self, params: list[Any]) -> Any:
        assert params[1] == {"searchTransactionHistory": True}
        return {"context": self._ctx(), "value": [self.statuses.get(s) for s in params[0]]}

    def _getTokenSupply(self, params: list[Any]) -> Any:
        mint = self.mint_state(params[0])
        if mint is None:
            return RpcFailure(-32602, "Invalid param: not a Token mint")
        return {"context": self._ctx(), "value": {"amount": str(mint.supply), "decimals": mint.decimals}}

    def _getTokenAccountsByOwner(self, params: list[Any]) -> Any:
        owner, mint = params[0], params[1]["mint"]
        state = self.mint_state(mint)
        ata = get_associated_token_address(Pubkey.from_string(owner), Pubkey.from_string(mint), TOKEN)
        account = self.svm.get_account(ata)
        if state is None or account is None:
            return {"context": self._ctx(), "value": []}
        amount = TokenAccount.from_bytes(bytes(account.data)).amount
        parsed = {
            "type": "account",
            "info": {"mint": mint, "owner": owner, "tokenAmount": {"amount": str(amount), "decimals": state.decimals}},
        }
        found = {
            "pubkey": str(ata),
            "account": {"owner": str(TOKEN), "data": {"program": "spl-token", "parsed": parsed}},
        }
        return {"context": self._ctx(), "value": [found]}

    def _sendTransaction(self, params: list[Any]) -> Any:
        assert params[1]["encoding"] == "base64"
        with self._lock:
            self.received.append(params[0])
            tx = Transaction.from_bytes(base64.b64decode(params[0]))
            try:
                tx.verify()
            except Exception:
                return RpcFailure(-32003, "Transaction signature verification failure")
            if tx.message.account_keys[0] != self.payer:
                return RpcFailure(-32003, "Transaction fee payer is not the expected key")
            signature = str(tx.signatures[0])
            if signature in self.statuses:
                return RpcFailure(
                    -32002,
                    "Transaction simulation failed: This transaction has already been processed",
                    {"err": "AlreadyProcessed"},
                )
            if str(tx.message.recent_blockhash) not in self.valid_blockhashes:
                return RpcFailure(
                    -32002, "Transaction simulation failed: Blockhash not found", {"err": "BlockhashNotFound"}
                )
            dropped = self.drop_sends > 0
            if dropped:
                self.drop_sends -= 1  # accepted by the RPC node, never landed
        if dropped:
            if self.stall is not None:
                self.stall.wait(5)
            return signature
        with self._lock:
            if self.preflight:
                simulated = self.svm.simulate_transaction(tx)
                if isinstance(simulated, FailedTransactionMetadata):  # refused, never forwarded
                    err = _rpc_error(simulated.err())
                    return RpcFailure(-32002, f"Transaction simulation failed: {err}", {"err": err})
            result = self.svm.send_transaction(tx)
            err = _rpc_error(result.err()) if isinstance(result, FailedTransactionMetadata) else None
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
            self.stall.wait(5)
        if lose:
            return RpcFailure(-32603, "Internal error: the answer was lost")
        return signature
