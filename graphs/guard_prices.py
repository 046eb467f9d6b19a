"""Prices in a clone reply: every form a price is written in (`$19`, `19 USD`, `€19,00`, `EUR 19`,
`19.00` said as money, "nineteen dollars", `19 bucks`), told apart from times, quantities, years and
percentages, and the catalog's answer that replaces an invented one (see graphs/guard.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from tools._common import Offer, major_amount

__all__ = ["PriceMention", "catalog_answer", "find_prices"]

# ---- prices -----------------------------------------------------------------------------------------------

_DOLLARS = frozenset({"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN"})
_SYMBOLS: dict[str, frozenset[str]] = {
    "US$": frozenset({"USD"}),
    "CA$": frozenset({"CAD"}),
    "C$": frozenset({"CAD"}),
    "A$": frozenset({"AUD"}),
    "AU$": frozenset({"AUD"}),
    "NZ$": frozenset({"NZD"}),
    "$": _DOLLARS,
    "€": frozenset({"EUR"}),
    "£": frozenset({"GBP"}),
    "¥": frozenset({"JPY", "CNY"}),
    "₹": frozenset({"INR"}),
}
_CODES = ("USD", "EUR", "GBP", "JPY", "INR", "CAD", "AUD", "NZD", "CHF", "SEK", "NOK", "DKK", "PLN", "BRL", "MXN",
          "SGD", "HKD", "CNY")  # fmt: skip
# "pounds" is left out on purpose: a strength coach's "135 pounds" is a weight.
_WORDS: dict[str, frozenset[str]] = {
    "dollar": _DOLLARS,
    "dollars": _DOLLARS,
    "buck": _DOLLARS,
    "bucks": _DOLLARS,
    "euro": frozenset({"EUR"}),
    "euros": frozenset({"EUR"}),
    "quid": frozenset({"GBP"}),
    "yen": frozenset({"JPY"}),
    "rupees": frozenset({"INR"}),
}
_SMALL = {
    w: i
    for i, w in enumerate(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
    )
}  # fmt: skip
_TENS = {
    w: 10 * (i + 2)
    for i, w in enumerate(["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"])
}
_SCALES = {"hundred": 100, "thousand": 1000}
_NUMBER_WORD = "|".join([*_SMALL, *_TENS, *_SCALES, "a"])

_NUM = r"\d+(?:[.,]\d+)*"
_SYMBOL_RE = "|".join(re.escape(s) for s in sorted(_SYMBOLS, key=len, reverse=True))
_CODE_RE = "|".join(_CODES)
_WORD_RE = "|".join(sorted(_WORDS, key=len, reverse=True))
_CENTS = rf"(?:\s+and\s+(?P<cents>\d{{1,2}}|(?:(?:{_NUMBER_WORD})[\s-]+)*(?:{_NUMBER_WORD}))\s+cents?)?"

_PRICE_PATTERNS: tuple[re.Pattern[str], ...] = (
    # $19, $1,299.00, €19,00, CA$49, $5k
    re.compile(rf"(?P<symbol>{_SYMBOL_RE})\s?(?P<number>{_NUM})(?P<k>k\b)?"),
    # 19€, 19,00 €
    re.compile(rf"(?<![\w.,])(?P<number>{_NUM})\s?(?P<symbol>€|£|¥|₹)"),
    # EUR 19, USD 1,299.00
    re.compile(rf"\b(?P<code>{_CODE_RE})\s?(?P<number>{_NUM})"),
    # 19 USD, 19.00 EUR
    re.compile(rf"(?<![\w.,])(?P<number>{_NUM})\s?(?P<code>{_CODE_RE})\b"),
    # 19 dollars, 19 bucks, 19 dollars and 99 cents
    re.compile(rf"(?<![\w.,])(?P<number>{_NUM})\s+(?P<word>{_WORD_RE})\b{_CENTS}", re.IGNORECASE),
    # nineteen dollars, forty-nine dollars and ninety-nine cents
    re.compile(
        rf"\b(?P<words>(?:(?:{_NUMBER_WORD})[\s-]+(?:and[\s-]+)?)*(?:{'|'.join([*_SMALL, *_TENS, *_SCALES])}))"
        rf"\s+(?P<word>{_WORD_RE})\b{_CENTS}",
        re.IGNORECASE,
    ),
)
_DIGIT = re.compile(r"\d")
_MONEY_WORD = re.compile(rf"\b(?:{_WORD_RE})\b", re.IGNORECASE)
# A bare number counts as a price only when the words around it are about money.
_BARE = re.compile(r"(?<![\w.,$€£¥₹/:-])(?P<number>\d+(?:,\d{3})*(?:[.,]\d\d)?)(?![\w%°]|[.,:/]\d|\s[%°])")
_MONEY_BEFORE = re.compile(
    r"\b(?:price[sd]?|priced|cost|costs|costing|pay|paying|pays|fee|fees|charge[sd]?|total|only|just|for|is|it's|"
    r"was|are)\s+(?:(?:is|of|at|only|just|about|around|now)\s+)*$",
    re.IGNORECASE,
)
_TIME_BEFORE = re.compile(r"\b(?:at|by|until|till|from|around|before|after|since|between)\s+$", re.IGNORECASE)
_PERIOD_AFTER = re.compile(
    r"^\s*(?:/\s*(?:month|mo|year|yr)\b|(?:a|per|each)\s+(?:month|year)\b|monthly\b|yearly\b|annually\b|one-time\b)",
    re.IGNORECASE,
)
_UNIT_AFTER = re.compile(  # "12 reps", "5.30 pm", "12.50 km": a quantity, not money
    r"^\s*(?:[ap]\.?m\b|o'clock|h\b|hrs?\b|hours?\b|min(?:ute)?s?\b|sec(?:ond)?s?\b|k?g\b|kgs?\b|grams?\b|lbs?\b|"
    r"pounds?\b|kilos?\b|km\b|mi\b|miles?\b|m\b|cm\b|mm\b|ml\b|l\b|lit(?:re|er)s?\b|reps?\b|sets?\b|times\b|x\b|"
    r"k?cal(?:orie)?s?\b|percent\b|days?\b|weeks?\b|months\b|years\b|steps?\b|rounds?\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PriceMention:
    """An amount stated as money in a reply; `currencies` None when the text names no currency."""

    start: int
    end: int
    amount: Decimal
    currencies: frozenset[str] | None

    def matches(self, offer: Offer) -> bool:
        """Whether this is the offer's price (same amount, and the same currency when one is named)."""
        if offer.price is None or (self.currencies is not None and offer.currency not in self.currencies):
            return False
        return self.amount == major_amount(offer.price, offer.currency)


def _number(text: str) -> Decimal | None:
    """`1,299.00`, `1.299,00`, `19,00`, `19` -> Decimal (a last separator before 1-2 digits is the decimal one)."""
    digits = text
    last = max(text.rfind("."), text.rfind(","))
    if last >= 0 and 1 <= len(text) - last - 1 <= 2:
        digits = re.sub(r"[.,]", "", text[:last]) + "." + text[last + 1 :]
    else:
        digits = re.sub(r"[.,]", "", text)
    try:
        return Decimal(digits)
    except InvalidOperation:
        return None


def _words_number(words: str) -> int | None:
    """ "forty-nine" -> 49, "one hundred and twenty" -> 120, "a thousand" -> 1000."""
    total, current = 0, 0
    for word in re.split(r"[\s-]+", words.lower().strip()):
        if word in ("and", ""):
            continue
        if word == "a":
            current = max(current, 1)
        elif word in _SMALL:
            current += _SMALL[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word == "thousand":
            total += max(current, 1) * 1000
            current = 0
        else:
            return None
    return total + current


def _cents(value: str | None) -> Decimal:
    if not value:
        return Decimal(0)
    number = int(value) if value.isdigit() else _words_number(value)
    return Decimal(number or 0) / 100


def _mention(match: re.Match[str]) -> PriceMention | None:
    groups = match.groupdict()
    if groups.get("words"):
        whole = _words_number(groups["words"])
        amount = Decimal(whole) if whole is not None else None
    else:
        amount = _number(groups["number"])
    if amount is None:
        return None
    if groups.get("k"):
        amount *= 1000
    amount += _cents(groups.get("cents"))
    if groups.get("symbol"):
        currencies = _SYMBOLS[groups["symbol"]]
    elif groups.get("code"):
        currencies = frozenset({groups["code"]})
    else:
        currencies = _WORDS[groups["word"].lower()]
    return PriceMention(match.start(), match.end(), amount, currencies)


def _bare_is_money(text: str, match: re.Match[str]) -> bool:
    before, after = text[max(0, match.start() - 40) : match.start()], text[match.end() : match.end() + 20]
    decimal = bool(re.search(r"[.,]\d\d$", match.group("number")))
    if _PERIOD_AFTER.match(after):
        return decimal or bool(re.search(r"/", after[:3]))  # "19.00 a month", "49/month"; not "3 a month"
    if _TIME_BEFORE.search(before) or _UNIT_AFTER.match(after):
        return False  # "at 5.30", "12.50 km", "3 sets"
    return decimal and bool(_MONEY_BEFORE.search(before))


def find_prices(text: str, skip: Sequence[tuple[int, int]] = ()) -> list[PriceMention]:
    """Every amount `text` states as money, in order; spans in `skip` (URLs) are not read."""
    found: list[PriceMention] = []

    def free(start: int, end: int) -> bool:
        taken = [*skip, *((m.start, m.end) for m in found)]
        return all(end <= a or start >= b for a, b in taken)

    has_digit = _DIGIT.search(text) is not None
    spelled = bool(_MONEY_WORD.search(text))
    # cheap tests first: most sentences hold no digit and no money word, and skip every scan
    patterns = [*(_PRICE_PATTERNS[:-1] if has_digit else ()), *(_PRICE_PATTERNS[-1:] if spelled else ())]
    for pattern in patterns:
        for match in pattern.finditer(text):
            mention = _mention(match)
            if mention is not None and free(mention.start, mention.end):
                found.append(mention)
    for match in _BARE.finditer(text) if has_digit else ():
        amount = _number(match.group("number"))
        if amount is not None and free(match.start(), match.end()) and _bare_is_money(text, match):
            found.append(PriceMention(match.start(), match.end(), amount, None))
    return sorted(found, key=lambda m: m.start)


def catalog_answer(offers: Sequence[Offer], about: str = "", limit: int = 5) -> str:
    """The catalog's own words for prices: the offers named in `about` (else the first `limit`), exactly priced."""
    priced = [o for o in offers if o.price is not None]
    if not priced:
        return "I have nothing for sale right now."
    named = [o for o in priced if o.name.lower() in about.lower()]
    chosen = (named or priced)[:limit]
    if len(chosen) == 1:
        return f"{chosen[0].name} is {chosen[0].formatted_price}."
    return "Here is what I offer: " + "; ".join(f"{o.name}: {o.formatted_price}" for o in chosen) + "."
