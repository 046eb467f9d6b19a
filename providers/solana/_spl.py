"""SPL Token instructions built with solders from the token program's documented byte layouts
(solders has no SPL instruction helpers): InitializeMint2, MintToChecked, TransferChecked, and the
associated token account program's CreateIdempotent."""

from __future__ import annotations

import struct

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.token.associated import get_associated_token_address

__all__ = [
    "ASSOCIATED_TOKEN_PROGRAM_ID",
    "MINT_SIZE",
    "TOKEN_PROGRAM_ID",
    "associated_token_address",
    "create_associated_token_account_idempotent",
    "initialize_mint2",
    "mint_to_checked",
    "transfer_checked",
]

TOKEN_PROGRAM_ID = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
ASSOCIATED_TOKEN_PROGRAM_ID = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
MINT_SIZE = 82  # bytes of an SPL mint account

# Token program instruction tags (spl_token::instruction::TokenInstruction)
TRANSFER_CHECKED = 12
MINT_TO_CHECKED = 14
INITIALIZE_MINT2 = 20
ATA_CREATE_IDEMPOTENT = 1


def associated_token_address(wallet: Pubkey, mint: Pubkey) -> Pubkey:
    """The wallet's associated token account for `mint`."""
    return get_associated_token_address(wallet, mint, TOKEN_PROGRAM_ID)


def initialize_mint2(
    mint: Pubkey, decimals: int, mint_authority: Pubkey, freeze_authority: Pubkey | None
) -> Instruction:
    """InitializeMint2: tag 20, u8 decimals, 32-byte mint authority, COption<Pubkey> freeze authority."""
    freeze = b"\x01" + bytes(freeze_authority) if freeze_authority is not None else b"\x00"
    data = bytes([INITIALIZE_MINT2, decimals]) + bytes(mint_authority) + freeze
    return Instruction(TOKEN_PROGRAM_ID, data, [AccountMeta(mint, is_signer=False, is_writable=True)])


def mint_to_checked(mint: Pubkey, destination: Pubkey, authority: Pubkey, amount: int, decimals: int) -> Instruction:
    """MintToChecked: tag 14, u64 amount (little-endian), u8 decimals; mint, destination account, authority."""
    data = struct.pack("<BQB", MINT_TO_CHECKED, amount, decimals)
    accounts = [
        AccountMeta(mint, is_signer=False, is_writable=True),
        AccountMeta(destination, is_signer=False, is_writable=True),
        AccountMeta(authority, is_signer=True, is_writable=False),
    ]
    return Instruction(TOKEN_PROGRAM_ID, data, accounts)


def transfer_checked(
    source: Pubkey, mint: Pubkey, destination: Pubkey, owner: Pubkey, amount: int, decimals: int
) -> Instruction:
    """TransferChecked: tag 12, u64 amount, u8 decimals; source, mint, destination, owner."""
    data = struct.pack("<BQB", TRANSFER_CHECKED, amount, decimals)
    accounts = [
        AccountMeta(source, is_signer=False, is_writable=True),
        AccountMeta(mint, is_signer=False, is_writable=False),
        AccountMeta(destination, is_signer=False, is_writable=True),
        AccountMeta(owner, is_signer=True, is_writable=False),
    ]
    return Instruction(TOKEN_PROGRAM_ID, data, accounts)


def create_associated_token_account_idempotent(payer: Pubkey, wallet: Pubkey, mint: Pubkey) -> Instruction:
    """The associated token account program's CreateIdempotent (data [1]): a no-op if it exists."""
    accounts = [
        AccountMeta(payer, is_signer=True, is_writable=True),
        AccountMeta(associated_token_address(wallet, mint), is_signer=False, is_writable=True),
        AccountMeta(wallet, is_signer=False, is_writable=False),
        AccountMeta(mint, is_signer=False, is_writable=False),
        AccountMeta(SYSTEM_PROGRAM_ID, is_signer=False, is_writable=False),
        AccountMeta(TOKEN_PROGRAM_ID, is_signer=False, is_writable=False),
    ]
    return Instruction(ASSOCIATED_TOKEN_PROGRAM_ID, bytes([ATA_CREATE_IDEMPOTENT]), accounts)
