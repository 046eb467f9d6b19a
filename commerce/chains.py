"""Which provider runs a token's chain: blockchain name -> `TokenLedgerChain` (and, on Base, Uniswap).

    base      -> alchemy   (Base; anvil locally)          ERC20
    ethereum  -> ethereum  (mainnet; its own anvil)       ERC20
    sui       -> sui                                      Coin
    solana    -> solana                                   SPL

A token's `blockchain` property names its chain; every operation on the token goes through
`token_chain(providers, blockchain)`. An unknown name is `UnknownChain` (the caller's mistake); a
provider that cannot serve tokens (not configured, or not a token ledger) is `ChainNotAvailable`.
Pools exist where a Uniswap v3 deployment is wired: Base only (`pool_provider`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Protocol, cast

from ontology import InvalidInput
from providers.errors import ProviderNotConfigured
from providers.token_chain import Family, TokenLedgerChain
from providers.uniswap import AmmProvider

__all__ = [
    "CHAINS",
    "DEFAULT_CHAIN",
    "POOL_PROVIDERS",
    "STANDARDS",
    "ChainNotAvailable",
    "NoPools",
    "UnknownChain",
    "chain_names",
    "chain_router",
    "default_chain",
    "parse_chain",
    "pool_provider",
    "standard_of",
    "token_chain",
]

DEFAULT_CHAIN = "base"
CHAINS: dict[str, str] = {"base": "alchemy", "ethereum": "ethereum", "sui": "sui", "solana": "solana"}
FAMILIES: dict[str, Family] = {"base": "evm", "ethereum": "evm", "sui": "sui", "solana": "solana"}
STANDARDS: dict[Family, str] = {"evm": "ERC20", "sui": "Coin", "solana": "SPL"}
POOL_PROVIDERS: dict[str, str] = {"base": "uniswap"}  # chain -> the AMM provider wired for it


class _Providers(Protocol):
    def get(self, name: str) -> Any: ...


class UnknownChain(InvalidInput):
    """The blockchain name is not one ONE runs tokens on."""


class ChainNotAvailable(ProviderNotConfigured):
    """The chain's provider cannot serve creator tokens here (not configured, or no token ledger)."""


class NoPools(InvalidInput):
    """The token's chain has no AMM wired (pools exist on Base only)."""


def chain_names() -> list[str]:
    """The blockchains tokens can live on."""
    return list(CHAINS)


def parse_chain(blockchain: str | None) -> str:
    """The canonical chain name (lower case), or UnknownChain."""
    name = (blockchain or "").strip().lower()
    if name not in CHAINS:
        raise UnknownChain(f"unknown blockchain {blockchain!r}: tokens run on {', '.join(CHAINS)}")
    return name


def default_chain(providers: object) -> str:
    """The chain new tokens go to (`ONE_TOKEN_CHAIN`, exposed by one.providers.Providers), else base."""
    configured = getattr(providers, "token_chain", None)
    return parse_chain(configured) if isinstance(configured, str) else DEFAULT_CHAIN


def standard_of(blockchain: str) -> str:
    """The token standard on this chain: ERC20 on EVM chains, Coin on Sui, SPL on Solana."""
    return STANDARDS[FAMILIES[parse_chain(blockchain)]]


def token_chain(providers: _Providers, blockchain: str) -> TokenLedgerChain:
    """The provider running tokens on `blockchain` (UnknownChain / ChainNotAvailable otherwise)."""
    name = parse_chain(blockchain)
    provider_name = CHAINS[name]
    try:
        provider = providers.get(provider_name)
    except ProviderNotConfigured as error:
        raise ChainNotAvailable(f"tokens on {name} need the {provider_name} provider: {error}") from error
    if not isinstance(provider, TokenLedgerChain):
        raise ChainNotAvailable(
            f"the {provider_name} provider cannot deploy or mint tokens on {name} in this build "
            "(it is not a token ledger)"
        )
    if provider.family != FAMILIES[name]:
        raise ChainNotAvailable(f"the {provider_name} provider is a {provider.family} chain, not {FAMILIES[name]}")
    return provider


def chain_router(providers: _Providers) -> Callable[[str], TokenLedgerChain]:
    """`blockchain -> TokenLedgerChain` over these providers (what commerce.purchases takes as its router)."""
    return partial(token_chain, providers)


def pool_provider(providers: _Providers, blockchain: str) -> AmmProvider:
    """The AMM (Uniswap v3) for tokens on `blockchain`; NoPools on chains without one."""
    name = parse_chain(blockchain)
    if name not in POOL_PROVIDERS:
        raise NoPools(f"token pools run on {', '.join(POOL_PROVIDERS)} only, not on {name}")
    try:
        return cast(AmmProvider, providers.get(POOL_PROVIDERS[name]))
    except ProviderNotConfigured as error:
        raise ChainNotAvailable(f"pools on {name} need the {POOL_PROVIDERS[name]} provider: {error}") from error
