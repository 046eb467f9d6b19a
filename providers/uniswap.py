"""Uniswap v3 on Base: create a pool, add liquidity, quote a swap, over the Base chain's provider.

Live: Uniswap's deployed contracts on Base (`BASE_MAINNET`), through an `AlchemyChain.live(...)`.
Local: the same official contracts (npm artifacts) deployed once on the local anvil chain by
`deploy_uniswap`, through `AlchemyChain.local(node)`. Either way the code is the same web3 calls;
errors are this provider's family (`UniswapReverted` is also an `EvmReverted`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from web3.logs import DISCARD

from providers.evm.errors import (
    EvmAuthError,
    EvmChainMismatch,
    EvmError,
    EvmErrorFamily,
    EvmNotConfigured,
    EvmRateLimited,
    EvmRejected,
    EvmReverted,
    EvmUnavailable,
)
from providers.evm.token import EvmTokenChain
from providers.evm.uniswap import BASE_MAINNET, UniswapAddresses, deploy_uniswap, load_artifact

__all__ = [
    "FEE_TIERS",
    "UNISWAP_ERRORS",
    "AmmProvider",
    "LiquidityPosition",
    "UniswapAuthError",
    "UniswapChainMismatch",
    "UniswapError",
    "UniswapNotConfigured",
    "UniswapPoolPriceOff",
    "UniswapProvider",
    "UniswapRateLimited",
    "UniswapRejected",
    "UniswapReverted",
    "UniswapUnavailable",
]

FEE_TIERS = {100: 1, 500: 10, 3000: 60, 10000: 200}  # fee (hundredths of a bip) -> tick spacing
_MAX_TICK = 887272
_MIN_SQRT_RATIO, _MAX_SQRT_RATIO = 4295128739, 1461446703485210103287273052203988822378723970342


class UniswapError(EvmError):
    """Anything that failed in the uniswap provider."""


class UniswapNotConfigured(UniswapError, EvmNotConfigured):
    """Uniswap's npm artifacts are missing, or the chain has no known Uniswap deployment."""


class UniswapChainMismatch(UniswapNotConfigured, EvmChainMismatch):
    """The chain is not Base (nor the local chain)."""


class UniswapUnavailable(UniswapError, EvmUnavailable):
    """Transient RPC failure."""


class UniswapRateLimited(UniswapUnavailable, EvmRateLimited):
    """The RPC asked us to slow down."""


class UniswapAuthError(UniswapError, EvmAuthError):
    """The RPC refused our credentials."""


class UniswapRejected(UniswapError, EvmRejected):
    """Bad input (fee tier, price, identical tokens) or the node refused the request."""


class UniswapReverted(UniswapRejected, EvmReverted):
    """A Uniswap contract reverted (e.g. a quote on a pool without liquidity, a slippage check)."""


class UniswapPoolPriceOff(UniswapRejected):
    """The pool exists at a price outside the tolerance of ours: nothing was added to it."""

    def __init__(self, message: str, *, pool_price: Fraction, intended: Fraction) -> None:
        super().__init__(message)
        self.pool_price, self.intended = pool_price, intended


UNISWAP_ERRORS = EvmErrorFamily(
    name="uniswap",
    not_configured=UniswapNotConfigured,
    chain_mismatch=UniswapChainMismatch,
    unavailable=UniswapUnavailable,
    rate_limited=UniswapRateLimited,
    auth=UniswapAuthError,
    rejected=UniswapRejected,
    reverted=UniswapReverted,
)


@dataclass(frozen=True)
class LiquidityPosition:
    """A full-range liquidity position (an NFT of the position manager); amounts in base units."""

    position_id: int
    pool: str
    token0: str
    token1: str
    liquidity: int
    amount0: int
    amount1: int
    tx_hash: str
    mode: str
    amount0_min: int = 0
    amount1_min: int = 0


@runtime_checkable
class AmmProvider(Protocol):
    """Pools, liquidity and quotes on one AMM. Amounts are ints in base units."""

    mode: str

    def create_pool(
        self, token_a: str, token_b: str, fee: int = 3000, *, price: Fraction | Decimal | int = 1, key: str
    ) -> str:
        """The pool's address, created and initialised at `price` (b base units per a) if new; an existing
        pool only if its price is within tolerance of `price`."""
        ...

    def add_liquidity(
        self, token_a: str, token_b: str, amount_a: int, amount_b: int, fee: int = 3000, *, key: str
    ) -> LiquidityPosition:
        """Add full-range liquidity from the platform's balances with slippage bounds; returns the position."""
        ...

    def quote(self, token_in: str, token_out: str, amount_in: int, fee: int = 3000) -> int:
        """How many base units of `token_out` a swap of `amount_in` would return now."""
        ...


def sqrt_price_x96(price_token1_per_token0: Fraction) -> int:
    """Uniswap's Q64.96 square-root price for a ratio of base units (token1 per token0)."""
    return math.isqrt(price_token1_per_token0.numerator * 2**192 // price_token1_per_token0.denominator)


def _sqrt_at_tick(tick: int) -> int:
    """sqrt(1.0001^tick) in Q64.96 (to ~40 significant digits; TickMath's own value differs in the last bits)."""
    with localcontext() as context:
        context.prec = 60
        return int((Decimal("1.0001") ** tick).sqrt() * (Decimal(2) ** 96))


def expected_amounts(sqrt_price: int, tick_lower: int, tick_upper: int, amount0: int, amount1: int) -> tuple[int, int]:
    """What a mint of at most (amount0, amount1) deposits at the pool's current `sqrt_price` (Q64.96)
    between two ticks: Uniswap's LiquidityAmounts (liquidity from both amounts, the smaller one wins)."""
    lower, upper = _sqrt_at_tick(tick_lower), _sqrt_at_tick(tick_upper)
    price = min(max(sqrt_price, lower), upper)
    q96 = 2**96
    candidates = []
    if price < upper:
        candidates.append(amount0 * (price * upper // q96) // (upper - price))
    if price > lower:
        candidates.append(amount1 * q96 // (price - lower))
    liquidity = min(candidates)
    used0 = liquidity * (upper - price) * q96 // (price * upper) if price < upper else 0
    used1 = liquidity * (price - lower) // q96 if price > lower else 0
    return used0, used1


class UniswapProvider:
    """`AmmProvider` over Uniswap v3; build it with `live(base_chain)` or `local(local_chain, record)`."""

    def __init__(
        self,
        chain: EvmTokenChain,
        addresses: UniswapAddresses,
        node_modules: Path | None = None,
        *,
        price_tolerance_bps: int = 200,
        slippage_bps: int = 100,
    ) -> None:
        if not 0 <= price_tolerance_bps <= 10_000 or not 0 < slippage_bps < 10_000:
            raise UniswapNotConfigured("uniswap: price tolerance must be 0-10000 bps and slippage 1-9999 bps")
        self._chain = chain.with_errors(UNISWAP_ERRORS, "uniswap")
        self.addresses, self.mode = addresses, chain.mode
        self.price_tolerance_bps, self.slippage_bps = price_tolerance_bps, slippage_bps
        try:
            abis = {
                name: load_artifact(name, node_modules)[0]
                for name in ("factory", "pool", "position_manager", "quoter_v2")
            }
        except (FileNotFoundError, KeyError, ValueError) as error:
            raise UniswapNotConfigured("uniswap needs its npm artifacts: run `make install` (npm ci)") from error
        self._pool_abi = abis["pool"]
        self._factory = self._chain.contract(addresses.factory, abis["factory"])
        self._manager = self._chain.contract(addresses.position_manager, abis["position_manager"])
        self._quoter = self._chain.contract(addresses.quoter_v2, abis["quoter_v2"])

    @classmethod
    def live(cls, chain: EvmTokenChain, node_modules: Path | None = None, **options: int) -> UniswapProvider:
        """Uniswap's own deployment on Base mainnet, through the live Base chain provider (the same chain
        object as the alchemy provider's: one nonce manager per key). `options`: price_tolerance_bps,
        slippage_bps."""
        if chain.chain_id != BASE_MAINNET.chain_id:
            raise UniswapChainMismatch(f"uniswap runs on Base (chain id 8453), not chain id {chain.chain_id}")
        return cls(chain, BASE_MAINNET, node_modules, **options)

    @classmethod
    def local(
        cls, chain: EvmTokenChain, record: Path, node_modules: Path | None = None, **options: int
    ) -> UniswapProvider:
        """The official contracts deployed on the local chain (once; addresses kept in `record`)."""
        view = chain.with_errors(UNISWAP_ERRORS, "uniswap")
        try:
            addresses = deploy_uniswap(view, record, node_modules)
        except (FileNotFoundError, KeyError) as error:
            raise UniswapNotConfigured("uniswap needs its npm artifacts: run `make install` (npm ci)") from error
        return cls(chain, addresses, node_modules, **options)

    def _sorted(self, token_a: str, token_b: str, fee: int) -> tuple[Any, Any, bool]:
        if fee not in FEE_TIERS:
            raise UniswapRejected(f"uniswap: fee must be one of {sorted(FEE_TIERS)}, got {fee!r}")
        a, b = self._chain.checksum(token_a), self._chain.checksum(token_b)
        if a.lower() == b.lower():
            raise UniswapRejected("uniswap: a pool needs two different tokens")
        return (a, b, False) if a.lower() < b.lower() else (b, a, True)

    def pool_address(self, token_a: str, token_b: str, fee: int = 3000) -> str | None:
        """The pool's address, or None if the factory has none for these tokens and fee."""
        token0, token1, _ = self._sorted(token_a, token_b, fee)
        address = str(self._chain.call(self._factory.functions.getPool(token0, token1, fee), "getPool"))
        return None if int(address, 16) == 0 else address

    def _slot0_sqrt_price(self, pool: str) -> int:
        return int(self._chain.call(self._chain.contract(pool, self._pool_abi).functions.slot0(), "slot0")[0])

    def pool_price(self, token_a: str, token_b: str, fee: int = 3000) -> Fraction | None:
        """The pool's current price in base units of b per a, or None without an initialised pool."""
        _token0, _token1, flipped = self._sorted(token_a, token_b, fee)
        pool = self.pool_address(token_a, token_b, fee)
        sqrt_price = self._slot0_sqrt_price(pool) if pool else 0
        if not sqrt_price:
            return None
        price1_per_0 = Fraction(sqrt_price * sqrt_price, 2**192)
        return 1 / price1_per_0 if flipped else price1_per_0

    def _check_price(self, token_a: str, token_b: str, fee: int, intended: Fraction) -> Fraction | None:
        """The pool's price if it is within tolerance of `intended` (None without a pool), else UniswapPoolPriceOff."""
        current = self.pool_price(token_a, token_b, fee)
        if current is not None and abs(current - intended) * 10_000 > intended * self.price_tolerance_bps:
            off = float(abs(current - intended) / intended * 10_000)
            raise UniswapPoolPriceOff(
                f"uniswap: the pool's price {float(current):.6g} is {off:.0f} bps from the intended "
                f"{float(intended):.6g} (tolerance {self.price_tolerance_bps} bps): not using it",
                pool_price=current,
                intended=intended,
            )
        return current

    @staticmethod
    def _ratio(price: Fraction | Decimal | int) -> Fraction:
        try:
            ratio = Fraction(price)
        except (TypeError, ValueError):
            raise UniswapRejected(f"uniswap: price must be a positive number, got {price!r}") from None
        if ratio <= 0:
            raise UniswapRejected(f"uniswap: price must be positive, got {price!r}")
        return ratio

    def create_pool(
        self, token_a: str, token_b: str, fee: int = 3000, *, price: Fraction | Decimal | int = 1, key: str
    ) -> str:
        """The pool's address, created and initialised at `price` (b base units per a) once per `key`.
        An existing pool is used only if its price is within `price_tolerance_bps` of `price`, else
        UniswapPoolPriceOff (nothing is sent)."""
        token0, token1, flipped = self._sorted(token_a, token_b, fee)
        ratio = self._ratio(price)
        sqrt_price = sqrt_price_x96(1 / ratio if flipped else ratio)
        if not _MIN_SQRT_RATIO <= sqrt_price < _MAX_SQRT_RATIO:
            raise UniswapRejected(f"uniswap: price {price} is outside Uniswap's range")
        if self._check_price(token_a, token_b, fee, ratio) is None:
            function = self._manager.functions.createAndInitializePoolIfNecessary(token0, token1, fee, sqrt_price)
            self._chain.transact(function, f"create pool {token0}/{token1} fee {fee}", key=key)
            # someone may have initialised it first at another price: the same check again
            self._check_price(token_a, token_b, fee, ratio)
        created = self.pool_address(token0, token1, fee)
        if created is None:
            raise UniswapRejected("uniswap: the factory has no pool after createAndInitializePoolIfNecessary")
        return created

    def liquidity_mins(self, pool: str, amount0: int, amount1: int, fee: int = 3000) -> tuple[int, int, int, int]:
        """(expected0, expected1, min0, min1) for a full-range mint of at most (amount0, amount1) into
        `pool` at its current price: the expected deposit, less `slippage_bps`. A zero minimum is refused."""
        spacing = FEE_TIERS[fee]
        lower, upper = -(_MAX_TICK // spacing) * spacing, (_MAX_TICK // spacing) * spacing
        expected0, expected1 = expected_amounts(self._slot0_sqrt_price(pool), lower, upper, amount0, amount1)
        keep = 10_000 - self.slippage_bps
        min0, min1 = expected0 * keep // 10_000, expected1 * keep // 10_000
        if min0 <= 0 or min1 <= 0:
            raise UniswapRejected(
                f"uniswap: at the pool's price these amounts deposit ({expected0}, {expected1}) base units: "
                "too little for a non-zero slippage bound"
            )
        return expected0, expected1, min0, min1

    def add_liquidity(
        self,
        token_a: str,
        token_b: str,
        amount_a: int,
        amount_b: int,
        fee: int = 3000,
        *,
        key: str,
        price: Fraction | Decimal | int | None = None,
    ) -> LiquidityPosition:
        """Add full-range liquidity from the platform's balances once per `key` (approving the position
        manager). The pool must be at `price` (default amount_b/amount_a, b per a) within tolerance, else
        UniswapPoolPriceOff and nothing is sent; the mint's amount0Min/amount1Min are the amounts a quote
        of the pool's current state expects, less `slippage_bps`, so a pool moved in between makes the
        mint revert (UniswapReverted) instead of draining the deposit."""
        token0, token1, flipped = self._sorted(token_a, token_b, fee)
        for amount in (amount_a, amount_b):
            if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
                raise UniswapRejected(f"uniswap: amounts must be positive ints of base units, got {amount!r}")
        amount0, amount1 = (amount_b, amount_a) if flipped else (amount_a, amount_b)
        pool = self.pool_address(token0, token1, fee)
        if pool is None:
            raise UniswapRejected("uniswap: no pool for these tokens and fee; create_pool first")
        chain = self._chain
        assert isinstance(chain, EvmTokenChain)
        mint_key = f"{key}:mint"
        if chain.intent(mint_key) is None:  # a retry after the mint was signed goes straight to it
            intended = self._ratio(price) if price is not None else Fraction(amount_b, amount_a)
            self._check_price(token_a, token_b, fee, intended)
        _e0, _e1, min0, min1 = self.liquidity_mins(pool, amount0, amount1, fee)
        for token, amount in ((token0, amount0), (token1, amount1)):
            chain.approve(token, self.addresses.position_manager, amount, key=f"{key}:approve:{token.lower()}")
        spacing = FEE_TIERS[fee]
        latest = chain.read(lambda: chain.w3.eth.get_block("latest"), "eth_getBlockByNumber")
        deadline = int(latest["timestamp"]) + 1800 if "timestamp" in latest else int(time.time()) + 1800
        params = (
            token0,
            token1,
            fee,
            -(_MAX_TICK // spacing) * spacing,
            (_MAX_TICK // spacing) * spacing,
            amount0,
            amount1,
            min0,
            min1,
            chain.address,
            deadline,
        )
        receipt = chain.transact(self._manager.functions.mint(params), f"add liquidity to {pool}", key=mint_key)
        events = self._manager.events.IncreaseLiquidity().process_receipt(receipt.raw, errors=DISCARD)
        if not events:
            raise UniswapRejected(f"uniswap: no IncreaseLiquidity event in tx {receipt.tx_hash}")
        args = events[0]["args"]
        return LiquidityPosition(
            position_id=int(args["tokenId"]),
            pool=pool,
            token0=token0,
            token1=token1,
            liquidity=int(args["liquidity"]),
            amount0=int(args["amount0"]),
            amount1=int(args["amount1"]),
            tx_hash=receipt.tx_hash,
            mode=self.mode,
            amount0_min=min0,
            amount1_min=min1,
        )

    def quote(self, token_in: str, token_out: str, amount_in: int, fee: int = 3000) -> int:
        """How many base units of `token_out` a swap of `amount_in` would return (QuoterV2, eth_call)."""
        if isinstance(amount_in, bool) or not isinstance(amount_in, int) or amount_in <= 0:
            raise UniswapRejected(f"uniswap: amount_in must be a positive int of base units, got {amount_in!r}")
        self._sorted(token_in, token_out, fee)
        params = (self._chain.checksum(token_in), self._chain.checksum(token_out), amount_in, fee, 0)
        result = self._chain.call(self._quoter.functions.quoteExactInputSingle(params), "quoteExactInputSingle")
        return int(result[0])
