"""The shared EVM implementation: web3 over JSON-RPC, a local anvil node, the Vyper CreatorToken,
and Uniswap v3's official contracts. Chain providers (`providers.alchemy`, `providers.ethereum`,
`providers.uniswap`) configure it per chain with their own name and error family.
"""

from providers.evm.chain import EvmChain, Mode
from providers.evm.compile import CompiledContract, compile_contract
from providers.evm.errors import (
    EVM_ERRORS,
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
from providers.evm.node import (
    DEV_ADDRESS,
    DEV_PRIVATE_KEY,
    LOCAL_CHAIN_ID,
    AnvilNode,
    AnvilNotInstalled,
    AnvilStartFailed,
    find_anvil,
)
from providers.evm.token import EvmTokenChain, TokenChain
from providers.evm.types import Deployed, Transfer, TxReceipt

__all__ = [
    "DEV_ADDRESS",
    "DEV_PRIVATE_KEY",
    "EVM_ERRORS",
    "LOCAL_CHAIN_ID",
    "AnvilNode",
    "AnvilNotInstalled",
    "AnvilStartFailed",
    "CompiledContract",
    "Deployed",
    "EvmAuthError",
    "EvmChain",
    "EvmChainMismatch",
    "EvmError",
    "EvmErrorFamily",
    "EvmNotConfigured",
    "EvmRateLimited",
    "EvmRejected",
    "EvmReverted",
    "EvmTokenChain",
    "EvmUnavailable",
    "Mode",
    "TokenChain",
    "Transfer",
    "TxReceipt",
    "compile_contract",
    "find_anvil",
]
