"""STOPGAP until h/evm lands: a thin keyed `TokenLedgerChain` over the local anvil chain.

It stores each send's signed bytes and hash under its key (provider records) BEFORE sending, and a
retry re-sends the same bytes, so a key mints at most once. Delete once `AlchemyChain.local` takes
`key=` itself (the evm helper's intents); the purchase tests then use that.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from web3.exceptions import ContractLogicError, TransactionNotFound

from ontology import Store
from ontology.errors import NotFound
from providers.alchemy import AlchemyChain
from providers.evm.types import Deployed, TxReceipt
from providers.token_chain import SendOutcome

P = "keyed-anvil"


class KeyedAnvil:
    """TokenLedgerChain over `AlchemyChain.local` with keyed, stored-before-sent transactions."""

    family = "evm"

    def __init__(self, chain: AlchemyChain, store: Store, *, receipt_timeout: float = 10.0) -> None:
        self.chain, self._store = chain, store
        self.name, self.mode, self.network, self.address = chain.name, chain.mode, chain.network, chain.address
        self._lock = threading.Lock()
        self._timeout = receipt_timeout

    def check_address(self, address: str) -> str:
        return str(self.chain.checksum(address))

    def deploy_token(
        self, name: str, symbol: str, decimals: int, initial_supply: int, owner: str, *, key: str
    ) -> Deployed:
        return self.chain.deploy_token(name, symbol, decimals, initial_supply, owner)

    def _intent(self, key: str) -> dict[str, Any] | None:
        with self._store.unit_of_work() as uow:
            try:
                return dict(uow.records.get(P, "intent", key).data)
            except NotFound:
                return None

    def _send(self, function: Any, key: str, what: str) -> TxReceipt:
        intent = self._intent(key)
        if intent is None:
            w3, account = self.chain.w3, self.chain._account
            with self._lock:
                intent = self._intent(key)
                if intent is None:
                    nonce = self.chain._once(lambda: w3.eth.get_transaction_count(account.address, "pending"))
                    params = {"from": account.address, "nonce": nonce, "chainId": self.chain.chain_id}
                    try:
                        tx = function.build_transaction(params)
                    except ContractLogicError as error:
                        raise self.chain.errors.reverted(f"{self.name}: {what}: {error}") from error
                    except Exception as error:
                        raise self.chain._error(error) from error
                    signed = account.sign_transaction(tx)
                    intent = {
                        "raw": "0x" + bytes(signed.raw_transaction).hex(),
                        "hash": "0x" + bytes(signed.hash).hex(),
                    }
                    with self._store.unit_of_work() as uow:
                        uow.records.put(P, "intent", key, intent)
                        uow.commit()
                    self._raw(intent)
        receipt = self._wait(intent)
        if receipt.status != 1:
            raise self.chain.errors.reverted(f"{self.name}: {what} reverted", tx_hash=receipt.tx_hash)
        return receipt

    def _raw(self, intent: dict[str, Any]) -> None:
        try:
            self.chain.w3.eth.send_raw_transaction(bytes.fromhex(intent["raw"][2:]))
        except Exception as error:  # already known / nonce too low on a re-send: the receipt decides
            if not any(w in str(error).lower() for w in ("known", "nonce", "already imported")):
                raise self.chain._error(error) from error

    def _wait(self, intent: dict[str, Any]) -> TxReceipt:
        deadline = time.monotonic() + self._timeout
        self._raw(intent)
        while True:
            receipt = self.chain.get_receipt(intent["hash"])
            if receipt is not None:
                return receipt
            if time.monotonic() > deadline:
                raise self.chain.errors.unavailable(f"{intent['hash']} not mined in time")
            time.sleep(0.01)

    def mint(self, contract: str, to: str, amount: int, *, key: str) -> TxReceipt:
        function = self.chain._token(contract).functions.mint(self.chain.checksum(to), amount)
        return self._send(function, key, f"mint {amount} to {to}")

    def transfer(self, contract: str, to: str, amount: int, *, key: str) -> TxReceipt:
        function = self.chain._token(contract).functions.transfer(self.chain.checksum(to), amount)
        return self._send(function, key, f"transfer {amount} to {to}")

    def balance_of(self, contract: str, owner: str) -> int:
        return self.chain.balance_of(contract, owner)

    def total_supply(self, contract: str) -> int:
        return self.chain.total_supply(contract)

    def outcome(self, key: str) -> SendOutcome:
        intent = self._intent(key)
        if intent is None:
            return SendOutcome("unknown")
        receipt = self.chain.get_receipt(intent["hash"])
        if receipt is not None:
            return SendOutcome("mined" if receipt.status == 1 else "reverted", receipt)
        try:
            self.chain._once(lambda: self.chain.w3.eth.get_transaction(intent["hash"]))
            return SendOutcome("pending")
        except TransactionNotFound:
            return SendOutcome("unknown")
        except Exception as error:
            if "not found" in str(error).lower():
                return SendOutcome("unknown")
            raise
