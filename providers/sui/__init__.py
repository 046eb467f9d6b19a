"""Sui: reads over JSON-RPC, creator coins signed with the platform's key, and a local ledger.

    LiveSuiChain     reads and executing transactions signed elsewhere (`_rpc`)
    SuiTokenChain    `TokenLedgerChain` live: signs with ONE_SUI_PRIVATE_KEY (`_chain`); a new coin
                     must be published with the Sui CLI and registered (`SuiPublishRequired`)
    LocalSuiChain    `TokenLedgerChain` in the database when no RPC URL is set (`_local`)

Errors: see `_rpc` (SuiError and its family).
"""

from providers.sui._chain import SuiTokenChain
from providers.sui._keys import SuiKey, transaction_digest
from providers.sui._local import LOCAL_SUI_ADDRESS, LocalSuiChain
from providers.sui._rpc import (
    SUI_COIN_TYPE,
    LiveSuiChain,
    SuiAuthError,
    SuiChain,
    SuiError,
    SuiExecutionFailed,
    SuiNotConfigured,
    SuiPublishRequired,
    SuiRateLimited,
    SuiRejected,
    SuiTransaction,
    SuiUnavailable,
    check_address,
    check_coin_type,
)

__all__ = [
    "LOCAL_SUI_ADDRESS",
    "SUI_COIN_TYPE",
    "LiveSuiChain",
    "LocalSuiChain",
    "SuiAuthError",
    "SuiChain",
    "SuiError",
    "SuiExecutionFailed",
    "SuiKey",
    "SuiNotConfigured",
    "SuiPublishRequired",
    "SuiRateLimited",
    "SuiRejected",
    "SuiTokenChain",
    "SuiTransaction",
    "SuiUnavailable",
    "check_address",
    "check_coin_type",
    "transaction_digest",
]
