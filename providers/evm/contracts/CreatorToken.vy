# pragma version ~=0.4.3
"""
@title CreatorToken
@notice An ERC-20 for one creator. The deployer (the platform's key) is the minter;
        the initial supply goes to `holder`. Amounts are in base units (10**decimals per token).
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed

implements: IERC20
implements: IERC20Detailed

event MinterChanged:
    previous: indexed(address)
    current: indexed(address)

name: public(String[64])
symbol: public(String[32])
decimals: public(uint8)
totalSupply: public(uint256)
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
minter: public(address)


@deploy
def __init__(_name: String[64], _symbol: String[32], _decimals: uint8, _initial_supply: uint256, _holder: address):
    assert _holder != empty(address), "holder is the zero address"
    self.name = _name
    self.symbol = _symbol
    self.decimals = _decimals
    self.minter = msg.sender
    log MinterChanged(previous=empty(address), current=msg.sender)
    if _initial_supply > 0:
        self._mint(_holder, _initial_supply)


@internal
def _mint(_to: address, _value: uint256):
    assert _to != empty(address), "mint to the zero address"
    self.totalSupply += _value
    self.balanceOf[_to] += _value
    log IERC20.Transfer(sender=empty(address), receiver=_to, value=_value)


@internal
def _transfer(_from: address, _to: address, _value: uint256):
    assert _to != empty(address), "transfer to the zero address"
    assert self.balanceOf[_from] >= _value, "transfer amount exceeds balance"
    self.balanceOf[_from] -= _value
    self.balanceOf[_to] += _value
    log IERC20.Transfer(sender=_from, receiver=_to, value=_value)


@external
def transfer(_to: address, _value: uint256) -> bool:
    self._transfer(msg.sender, _to, _value)
    return True


@external
def transferFrom(_from: address, _to: address, _value: uint256) -> bool:
    allowed: uint256 = self.allowance[_from][msg.sender]
    assert allowed >= _value, "transfer amount exceeds allowance"
    if allowed != max_value(uint256):
        self.allowance[_from][msg.sender] = allowed - _value
    self._transfer(_from, _to, _value)
    return True


@external
def approve(_spender: address, _value: uint256) -> bool:
    self.allowance[msg.sender][_spender] = _value
    log IERC20.Approval(owner=msg.sender, spender=_spender, value=_value)
    return True


@external
def mint(_to: address, _value: uint256) -> bool:
    assert msg.sender == self.minter, "only the minter can mint"
    self._mint(_to, _value)
    return True


@external
def mint_batch(_to: DynArray[address, 64], _values: DynArray[uint256, 64]) -> bool:
    """
    @notice Mint `_values[i]` to `_to[i]` for every i, all or nothing: several purchases' mints in one
            transaction (the platform batches concurrent purchases of one token).
    """
    assert msg.sender == self.minter, "only the minter can mint"
    assert len(_to) == len(_values), "recipients and values differ in length"
    for i: uint256 in range(len(_to), bound=64):
        self._mint(_to[i], _values[i])
    return True


@external
def set_minter(_minter: address):
    assert msg.sender == self.minter, "only the minter can change the minter"
    log MinterChanged(previous=self.minter, current=_minter)
    self.minter = _minter
