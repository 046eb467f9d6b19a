"""Solana: reads over JSON-RPC, SPL creator tokens signed with the platform's key, and a local ledger.

    LiveSolanaChain     reads and submitting transactions signed elsewhere (`_rpc`)
    SolanaTokenChain    `TokenLedgerChain` live: signs with ONE_SOLANA_PRIVATE_KEY (`_chain`)
    LocalSolanaChain    `TokenLedgerChain` in the database when no RPC URL is set (`_local`)

Errors: see `_rpc` (SolanaError and its family).
"""

from providers.solana._chain import SolanaTokenChain
from providers.solana._keys import load_keypair
from providers.solana._local import LOCAL_SOLANA_ADDRESS, LocalSolanaChain
from providers.solana._rpc import (
    Commitment,
    LiveSolanaChain,
    SolanaAuthError,
    SolanaChain,
    SolanaError,
    SolanaExecutionFailed,
    SolanaNotConfigured,
    SolanaRateLimited,
    SolanaRejected,
    SolanaTransaction,
    SolanaUnavailable,
    check_address,
)

__all__ = [
    "LOCAL_SOLANA_ADDRESS",
    "Commitment",
    "LiveSolanaChain",
    "LocalSolanaChain",
    "SolanaAuthError",
    "SolanaChain",
    "SolanaError",
    "SolanaExecutionFailed",
    "SolanaNotConfigured",
    "SolanaRateLimited",
    "SolanaRejected",
    "SolanaTokenChain",
    "SolanaTransaction",
    "SolanaUnavailable",
    "check_address",
    "load_keypair",
]
