"""Live Solana creator tokens: SPL mints signed with the platform's Ed25519 key, sent so none can double.

Every send goes through the intent store (`providers.intents`) under its idempotency key:

1. reserve the intent (the request's details; the same key with other details is refused);
2. build and sign the transaction (recent blockhash from `getLatestBlockhash`) and store the signed
   bytes and signature BEFORE `sendTransaction`;
3. send, then poll `getSignatureStatuses` until it is confirmed (mined), failed (reverted:
   `SolanaExecutionFailed`) or its blockhash expires.

A retry under the same key re-sends the SAME signed transaction while its blockhash is valid (the
cluster runs one signature once). Only when the blockhash has expired (`isBlockhashValid` false)
AND the signature is then provably absent (`getSignatureStatuses` with `searchTransactionHistory`)
may the key be signed again, with a fresh blockhash: the old transaction can never land any more.
The store keeps the old signature in `replaced_hashes`. A new mint's keypair is derived from the
platform key and the idempotency key, so a re-signed deploy creates the same mint address.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import httpx
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, create_account
from solders.transaction import Transaction

from providers.chain_locks import NamedLock, ProcessLocks
from providers.evm.types import Deployed, TxReceipt
from providers.intents import Intent, IntentStore
from providers.retry import RetryPolicy
from providers.solana import _spl as spl
from providers.solana._keys import load_keypair
from providers.solana._rpc import (
    Commitment,
    LiveSolanaChain,
    SolanaExecutionFailed,
    SolanaRejected,
    SolanaUnavailable,
    check_address,
)
from providers.token_chain import Family, SendOutcome

__all__ = ["SolanaTokenChain"]

_LANDED = ("confirmed", "finalized")
_MAX_SIGNINGS = 3  # fresh blockhashes tried in one call before answering "still pending"


class SolanaTokenChain(LiveSolanaChain):
    """`TokenLedgerChain` on a Solana cluster: SPL token mints, MintToChecked, TransferChecked."""

    name = "solana"
    family: Family = "solana"
    mode = "live"

    def __init__(
        self,
        rpc_url: str,
        private_key: str,
        *,
        intents: IntentStore,
        network: str = "mainnet-beta",
        commitment: Commitment = "confirmed",
        timeout: float = 20.0,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float = 0.5,
        confirm_polls: int = 60,
        lock: NamedLock | None = None,
    ) -> None:
        super().__init__(rpc_url, commitment=commitment, timeout=timeout, retry=retry, transport=transport, sleep=sleep)
        self._keypair = load_keypair(private_key)
        self._intents = intents
        self._lock = lock or ProcessLocks()
        self._sleep = sleep
        self._poll_interval = poll_interval
        self._confirm_polls = confirm_polls
        self._decimals: dict[str, int] = {}
        self.network = network
        self.address = str(self._keypair.pubkey())
        self._chain = f"solana:{network}"

    # -- TokenLedgerChain --------------------------------------------------------------------------

    def check_address(self, address: str) -> str:
        """A base58 public key, unchanged; SolanaRejected otherwise."""
        return check_address(address)

    def deploy_token(
        self, name: str, symbol: str, decimals: int, initial_supply: int, owner: str, *, key: str
    ) -> Deployed:
        """A new SPL mint (we are its mint authority, no freeze authority), `initial_supply` to `owner`.

        SPL mints carry no name or symbol (that is Metaplex metadata); they are kept in the intent.
        """
        if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 9:
            raise SolanaRejected("an SPL token's decimals must be an int from 0 to 9")
        _amount(initial_supply, allow_zero=True)
        owner_key = Pubkey.from_string(check_address(owner, "owner address"))
        mint = self._mint_keypair(key)
        details = {
            "op": "deploy",
            "name": name,
            "symbol": symbol,
            "decimals": decimals,
            "initial_supply": str(initial_supply),
            "owner": owner,
            "mint": str(mint.pubkey()),
        }
        payer = self._keypair.pubkey()

        def instructions() -> tuple[list[Instruction], list[Keypair]]:
            rent = self._rent_exempt(spl.MINT_SIZE)
            made = [
                create_account(
                    CreateAccountParams(
                        from_pubkey=payer,
                        to_pubkey=mint.pubkey(),
                        lamports=rent,
                        space=spl.MINT_SIZE,
                        owner=spl.TOKEN_PROGRAM_ID,
                    )
                ),
                spl.initialize_mint2(mint.pubkey(), decimals, payer, None),
            ]
            if initial_supply:
                made += [
                    spl.create_associated_token_account_idempotent(payer, owner_key, mint.pubkey()),
                    spl.mint_to_checked(
                        mint.pubkey(),
                        spl.associated_token_address(owner_key, mint.pubkey()),
                        payer,
                        initial_supply,
                        decimals,
                    ),
                ]
            return made, [self._keypair, mint]

        receipt = self._send(key, details, instructions, contract=str(mint.pubkey()))
        self._decimals[str(mint.pubkey())] = decimals
        return Deployed(
            contract_address=str(mint.pubkey()),
            tx_hash=receipt.tx_hash,
            block=receipt.block,
            chain_id=0,
            mode="live",
            network=self.network,
        )

    def mint(self, contract: str, to: str, amount: int, *, key: str) -> TxReceipt:
        """MintToChecked into `to`'s associated token account (created idempotently), once per key."""
        _amount(amount)
        mint = Pubkey.from_string(check_address(contract, "mint address"))
        wallet = Pubkey.from_string(check_address(to, "recipient address"))
        details = {"op": "mint", "contract": contract, "to": to, "amount": str(amount)}
        payer = self._keypair.pubkey()

        def instructions() -> tuple[list[Instruction], list[Keypair]]:
            decimals = self._mint_decimals(contract)
            return [
                spl.create_associated_token_account_idempotent(payer, wallet, mint),
                spl.mint_to_checked(mint, spl.associated_token_address(wallet, mint), payer, amount, decimals),
            ], [self._keypair]

        return self._send(key, details, instructions)

    def transfer(self, contract: str, to: str, amount: int, *, key: str) -> TxReceipt:
        """TransferChecked from the platform's token account to `to`'s, once per key."""
        _amount(amount)
        mint = Pubkey.from_string(check_address(contract, "mint address"))
        wallet = Pubkey.from_string(check_address(to, "recipient address"))
        details = {"op": "transfer", "contract": contract, "to": to, "amount": str(amount)}
        payer = self._keypair.pubkey()

        def instructions() -> tuple[list[Instruction], list[Keypair]]:
            decimals = self._mint_decimals(contract)
            source = spl.associated_token_address(payer, mint)
            destination = spl.associated_token_address(wallet, mint)
            return [
                spl.create_associated_token_account_idempotent(payer, wallet, mint),
                spl.transfer_checked(source, mint, destination, payer, amount, decimals),
            ], [self._keypair]

        return self._send(key, details, instructions)

    def balance_of(self, contract: str, owner: str) -> int:
        """The owner's balance of the mint, summed over its token accounts."""
        return self.get_token_balance(owner, contract)

    def total_supply(self, contract: str) -> int:
        """`getTokenSupply`: the mint's supply in base units."""
        return int(self._token_supply(contract)["amount"])

    def outcome(self, key: str) -> SendOutcome:
        """What became of the send under `key`; a signature whose blockhash expired without it landing
        is marked dropped ("unknown": nothing happened, safe to compensate)."""
        with self._lock(f"chain-send:{self._chain}:{key}"):
            return self._outcome(key)

    def _outcome(self, key: str) -> SendOutcome:
        intent = self._intents.get(key)
        if intent is None or intent.status == "dropped" or intent.raw_tx is None:
            return SendOutcome("unknown")
        if intent.status in ("mined", "reverted"):
            return SendOutcome(intent.status, _receipt(intent.receipt or {}, self.network))
        landed = self._landed(intent)
        if landed is not None:
            return landed
        if self._blockhash_valid(intent.raw_tx):
            return SendOutcome("pending")
        landed = self._landed(intent)  # the blockhash has expired: this answer is final
        if landed is not None:
            return landed
        self._intents.set_status(key, "dropped")
        return SendOutcome("unknown")

    # -- sending -----------------------------------------------------------------------------------

    def _send(
        self,
        key: str,
        details: Mapping[str, Any],
        build: Callable[[], tuple[list[Instruction], list[Keypair]]],
        *,
        contract: str | None = None,
    ) -> TxReceipt:
        if not isinstance(key, str) or not key or len(key) > 200:
            raise SolanaRejected("an idempotency key must be 1 to 200 characters")
        with self._lock(f"chain-send:{self._chain}:{key}"):  # never two signings of one key at once
            stored = {**details, "contract": contract} if contract else dict(details)
            intent = self._intents.reserve(
                key, chain=self._chain, signer=self.address, details=stored, nonce_floor=None
            )
            if dict(intent.details) != stored:
                used_for = intent.details.get("op")
                raise SolanaRejected(f"idempotency key {key!r} was already used for a different {used_for}")
            for _ in range(_MAX_SIGNINGS):
                settled = self._settled(intent)
                if settled is not None:
                    return settled
                if intent.raw_tx is None or intent.status == "dropped":
                    intent = self._sign(key, build)
                elif not self._blockhash_valid(intent.raw_tx):
                    landed = self._landed(intent)  # expired first, then absent: it can never land
                    if landed is not None:
                        intent = self._intents.get(key) or intent
                        continue
                    self._intents.set_status(key, "dropped")
                    intent = self._sign(key, build)
                elif self._landed(intent) is not None:  # an earlier send landed: nothing to send again
                    intent = self._intents.get(key) or intent
                    continue
                self._submit(key, intent)
                intent = self._confirm(key, intent)
            settled = self._settled(intent)
            if settled is not None:
                return settled
            raise SolanaUnavailable(f"solana: the send under key {key!r} is not confirmed yet; call again with the key")

    def _settled(self, intent: Intent) -> TxReceipt | None:
        if intent.status == "mined":
            return _receipt(intent.receipt or {}, self.network)
        if intent.status == "reverted":
            error = (intent.receipt or {}).get("error")
            raise SolanaExecutionFailed(f"solana: transaction {intent.tx_hash} failed: {error}", intent.tx_hash)
        return None

    def _sign(self, key: str, build: Callable[[], tuple[list[Instruction], list[Keypair]]]) -> Intent:
        instructions, signers = build()
        blockhash = self._latest_blockhash()
        tx = Transaction.new_signed_with_payer(instructions, self._keypair.pubkey(), signers, blockhash)
        raw = base64.b64encode(bytes(tx)).decode()
        return self._intents.record_signed(key, raw_tx=raw, tx_hash=str(tx.signatures[0]))

    def _submit(self, key: str, intent: Intent) -> None:
        try:
            self.send_signed_transaction(str(intent.raw_tx))
        except SolanaRejected as error:
            text = str(error)
            if "AlreadyProcessed" not in text and "already been processed" not in text:
                # A preflight refusal proves nothing about an earlier send of the same bytes (a
                # timed-out attempt may be in flight): the intent stays open, and `outcome` marks it
                # dropped only once its blockhash has expired without the signature landing.
                raise
        if intent.status != "sent":
            self._intents.set_status(key, "sent")

    def _confirm(self, key: str, intent: Intent) -> Intent:
        """Poll until the signature lands, or its blockhash expires (then the caller decides)."""
        for _ in range(self._confirm_polls):
            if self._landed(intent) is not None:
                return self._intents.get(key) or intent
            if not self._blockhash_valid(str(intent.raw_tx)):
                return self._intents.get(key) or intent
            self._sleep(self._poll_interval)
        return self._intents.get(key) or intent

    def _landed(self, intent: Intent) -> SendOutcome | None:
        """The final outcome when the signature is confirmed (stored on the intent), else None."""
        status = self._signature_status(str(intent.tx_hash))
        if status is None or status.get("confirmationStatus") not in _LANDED:
            return None
        error = status.get("err")
        receipt = {
            "signature": intent.tx_hash,
            "slot": int(status.get("slot") or 0),
            "contract": intent.details.get("contract"),
            "error": None if error is None else str(error),
        }
        state: Literal["mined", "reverted"] = "reverted" if error is not None else "mined"
        self._intents.set_status(intent.key, state, receipt=receipt)
        return SendOutcome(state, _receipt(receipt, self.network))

    # -- RPC ---------------------------------------------------------------------------------------

    def _latest_blockhash(self) -> Hash:
        result = self._rpc.call("getLatestBlockhash", [{"commitment": self._commitment}])
        try:
            return Hash.from_string(str(result["value"]["blockhash"]))
        except (KeyError, TypeError, ValueError) as error:
            raise SolanaUnavailable("solana: getLatestBlockhash answered without a blockhash") from error

    def _blockhash_valid(self, raw_tx: str) -> bool:
        blockhash = Transaction.from_bytes(base64.b64decode(raw_tx)).message.recent_blockhash
        result = self._rpc.call("isBlockhashValid", [str(blockhash), {"commitment": self._commitment}])
        value = result.get("value") if isinstance(result, dict) else None
        if not isinstance(value, bool):
            raise SolanaUnavailable("solana: isBlockhashValid answered without a boolean")
        return value

    def _signature_status(self, signature: str) -> dict[str, Any] | None:
        result = self._rpc.call("getSignatureStatuses", [[signature], {"searchTransactionHistory": True}])
        values = result.get("value") if isinstance(result, dict) else None
        if not isinstance(values, list) or len(values) != 1:
            raise SolanaUnavailable("solana: getSignatureStatuses answered without one status")
        status = values[0]
        return status if isinstance(status, dict) else None

    def _rent_exempt(self, size: int) -> int:
        result = self._rpc.call("getMinimumBalanceForRentExemption", [size, {"commitment": self._commitment}])
        if isinstance(result, bool) or not isinstance(result, int):
            raise SolanaUnavailable("solana: getMinimumBalanceForRentExemption answered without lamports")
        return result

    def _token_supply(self, contract: str) -> dict[str, Any]:
        mint = check_address(contract, "mint address")
        result = self._rpc.call("getTokenSupply", [mint, {"commitment": self._commitment}])
        value = result.get("value") if isinstance(result, dict) else None
        if not isinstance(value, dict) or "amount" not in value or "decimals" not in value:
            raise SolanaUnavailable("solana: getTokenSupply answered without amount and decimals")
        return value

    def _mint_decimals(self, contract: str) -> int:
        if contract not in self._decimals:
            self._decimals[contract] = int(self._token_supply(contract)["decimals"])
        return self._decimals[contract]

    def _mint_keypair(self, key: str) -> Keypair:
        """The new mint's keypair: the same for the same key, so a re-signed deploy makes the same mint."""
        seed = hashlib.sha256(b"one-solana-mint|" + bytes(self._keypair) + b"|" + key.encode()).digest()
        return Keypair.from_seed(seed)


def _receipt(receipt: Mapping[str, Any], network: str) -> TxReceipt:
    contract = receipt.get("contract")
    return TxReceipt(
        tx_hash=str(receipt.get("signature")),
        block=int(receipt.get("slot") or 0),
        status=0 if receipt.get("error") else 1,
        gas_used=0,
        contract_address=str(contract) if contract else None,
        mode="live",
        network=network,
        raw=dict(receipt),
    )


def _amount(amount: int, *, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if isinstance(amount, bool) or not isinstance(amount, int) or not low <= amount < 2**64:
        raise SolanaRejected(f"an amount must be an int of base units from {low} to 2**64-1, got {amount!r}")
    return amount
