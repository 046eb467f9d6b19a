"""Uniswap v3's official contracts: their npm artifacts, Base mainnet addresses, and a local deployment.

The artifacts come from npm (`@uniswap/v3-core` 1.0.1, `@uniswap/v3-periphery` 1.4.4, WETH9 from
`@uniswap/v2-periphery`), exactly the bytecode Uniswap deployed, so the periphery's hard-coded pool
init-code hash matches the factory's pools. `deploy_uniswap` puts the whole set on the local anvil
chain once and records the addresses in a JSON file next to the chain's state; a record whose
contracts are gone (a fresh chain) is redeployed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from providers.evm.chain import EvmChain

__all__ = [
    "ARTIFACTS",
    "BASE_MAINNET",
    "UniswapAddresses",
    "deploy_uniswap",
    "load_artifact",
    "node_modules_dir",
]

log = logging.getLogger("one.providers.evm.uniswap")

_V3_CORE = "@uniswap/v3-core/artifacts/contracts"
_V3_PERIPHERY = "@uniswap/v3-periphery/artifacts/contracts"
ARTIFACTS = {
    "factory": f"{_V3_CORE}/UniswapV3Factory.sol/UniswapV3Factory.json",
    "pool": f"{_V3_CORE}/UniswapV3Pool.sol/UniswapV3Pool.json",
    "position_manager": f"{_V3_PERIPHERY}/NonfungiblePositionManager.sol/NonfungiblePositionManager.json",
    "quoter_v2": f"{_V3_PERIPHERY}/lens/QuoterV2.sol/QuoterV2.json",
    "nft_descriptor": f"{_V3_PERIPHERY}/libraries/NFTDescriptor.sol/NFTDescriptor.json",
    "descriptor": f"{_V3_PERIPHERY}/NonfungibleTokenPositionDescriptor.sol/NonfungibleTokenPositionDescriptor.json",
    "weth9": "@uniswap/v2-periphery/build/WETH9.json",
}


@dataclass(frozen=True)
class UniswapAddresses:
    """Where Uniswap v3 lives on one chain."""

    chain_id: int
    factory: str
    weth9: str
    position_manager: str
    quoter_v2: str
    descriptor: str


# docs.uniswap.org/contracts/v3/reference/deployments/base-deployments (WETH is Base's predeploy)
BASE_MAINNET = UniswapAddresses(
    chain_id=8453,
    factory="0x33128a8fC17869897dcE68Ed026d694621f6FDfD",
    weth9="0x4200000000000000000000000000000000000006",
    position_manager="0x03a520b32C04BF3bEEf7BEb72E919cf822Ed34f1",
    quoter_v2="0x3d4e44Eb1374240CE5F1B871ab261CD16335B76a",
    descriptor="0x4615C383F85D0a2BbED973d83ccecf5CB7121463",
)


def node_modules_dir() -> Path | None:
    """The npm `node_modules` holding the Uniswap packages (repo root, then cwd), or None."""
    for base in (Path(__file__).resolve().parents[2], Path.cwd()):
        candidate = base / "node_modules"
        if (candidate / "@uniswap" / "v3-core").is_dir():
            return candidate
    return None


def load_artifact(name: str, node_modules: Path | None = None) -> tuple[list[dict[str, Any]], str]:
    """(abi, creation bytecode) of one of `ARTIFACTS`; FileNotFoundError when npm packages are missing."""
    root = node_modules or node_modules_dir()
    if root is None:
        raise FileNotFoundError("node_modules/@uniswap is missing")
    data = json.loads((root / ARTIFACTS[name]).read_text(encoding="utf-8"))
    bytecode = data["bytecode"]
    if isinstance(bytecode, dict):  # truffle/waffle layout (WETH9)
        bytecode = bytecode["object"]
    return data["abi"], bytecode if bytecode.startswith("0x") else "0x" + bytecode


def _link(bytecode: str, artifact: str, library: str, address: str, node_modules: Path | None) -> str:
    """`bytecode` with every placeholder of `library` replaced by its deployed address."""
    root = node_modules or node_modules_dir()
    assert root is not None
    refs = json.loads((root / artifact).read_text(encoding="utf-8"))["linkReferences"]
    code = bytecode.removeprefix("0x")
    for source in refs.values():
        for ref in source.get(library, []):
            start = ref["start"] * 2
            code = code[:start] + address.removeprefix("0x").lower() + code[start + ref["length"] * 2 :]
    return "0x" + code


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _deployed(chain: EvmChain, addresses: UniswapAddresses) -> bool:
    if addresses.chain_id != chain.chain_id:
        return False

    def has_code(address: str) -> bool:
        return bool(chain.read(lambda: chain.w3.eth.get_code(chain.checksum(address)), "eth_getCode"))

    contracts = (addresses.factory, addresses.weth9, addresses.position_manager, addresses.quoter_v2)
    return all(has_code(address) for address in contracts)


def deploy_uniswap(chain: EvmChain, record: Path, node_modules: Path | None = None) -> UniswapAddresses:
    """Uniswap v3 on `chain` (a local node): the recorded deployment if still there, else a new one.

    Deploys NFTDescriptor (library), NonfungibleTokenPositionDescriptor (linked to it), the v3 factory,
    WETH9, NonfungiblePositionManager(factory, WETH9, descriptor) and QuoterV2(factory, WETH9).
    """
    chain.check()
    with _locked(record):
        if record.exists():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                known = UniswapAddresses(**json.loads(record.read_text(encoding="utf-8")))
                if _deployed(chain, known):
                    return known

        def deploy(name: str, *args: Any, bytecode: str | None = None) -> str:
            abi, code = load_artifact(name, node_modules)
            # one key per contract per chain (the identity names the chain instance: a fresh node redeploys)
            key = f"uniswap-deploy:{chain.identity}:{name}"
            return chain.deploy(abi, bytecode or code, *args, what=f"deploy uniswap {name}", key=key).contract_address

        library = deploy("nft_descriptor")
        weth9 = deploy("weth9")
        _, descriptor_code = load_artifact("descriptor", node_modules)
        linked = _link(descriptor_code, ARTIFACTS["descriptor"], "NFTDescriptor", library, node_modules)
        descriptor = deploy("descriptor", weth9, b"ETH".ljust(32, b"\0"), bytecode=linked)
        factory = deploy("factory")
        addresses = UniswapAddresses(
            chain_id=chain.chain_id,
            factory=factory,
            weth9=weth9,
            position_manager=deploy("position_manager", factory, weth9, descriptor),
            quoter_v2=deploy("quoter_v2", factory, weth9),
            descriptor=descriptor,
        )
        record.write_text(json.dumps(asdict(addresses), indent=2), encoding="utf-8")
        log.info("uniswap v3 deployed on chain %d: %s", chain.chain_id, addresses)
        return addresses
