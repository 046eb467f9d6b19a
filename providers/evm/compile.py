"""Compile the Vyper contracts in `contracts/` in-process, caching ABI and bytecode by source hash.

`vyper.compile_code` takes ~0.1 s; the cache (a JSON file per source hash and compiler version)
makes every later start free and keeps a deployment reproducible: same source, same bytecode.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CONTRACTS_DIR", "EVM_VERSION", "CompiledContract", "compile_contract"]

CONTRACTS_DIR = Path(__file__).parent / "contracts"
# Cancun runs on Base, Ethereum mainnet and anvil alike.
EVM_VERSION = "cancun"


@dataclass(frozen=True)
class CompiledContract:
    """A contract's ABI and creation bytecode (0x-prefixed hex)."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    source_hash: str


def compile_contract(name: str, cache_dir: Path | None = None) -> CompiledContract:
    """Compile `contracts/<name>.vy` (or return the cached result for the same source and compiler)."""
    import vyper
    from vyper.compiler.settings import Settings

    source = (CONTRACTS_DIR / f"{name}.vy").read_text(encoding="utf-8")
    key = hashlib.sha256(f"{vyper.__version__}\0{EVM_VERSION}\0{source}".encode()).hexdigest()
    cached = cache_dir / f"{name}-{key[:16]}.json" if cache_dir else None
    if cached and cached.exists():
        data = json.loads(cached.read_text(encoding="utf-8"))
        return CompiledContract(name, data["abi"], data["bytecode"], key)
    output = vyper.compile_code(
        source,
        contract_path=f"{name}.vy",
        output_formats=["abi", "bytecode"],
        settings=Settings(evm_version=EVM_VERSION),
    )
    compiled = CompiledContract(name, output["abi"], output["bytecode"], key)
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        # write-then-rename so a concurrent reader never sees half a file
        fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"abi": compiled.abi, "bytecode": compiled.bytecode, "vyper": vyper.__version__}, handle)
        os.replace(tmp, cached)
    return compiled
