"""Kubernetes resource quantities: parse, compare and print them canonically.

The API server decodes every ``resource.Quantity``, rounds it up to milli scale
(``SetDefaults_ResourceList`` in ``pkg/apis/core/v1/defaults.go``) and writes it
back in canonical form (apimachinery ``pkg/api/resource/quantity.go``
``CanonicalizeBytes``), so ``1024Mi`` is read back as ``1Gi`` and ``0.5`` as
``500m``. Validation compares quantities numerically (requests <= limits).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

_RE = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$")
_BIN = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DEC = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DEC_SUFFIX = {v: k for k, v in _DEC.items()}
_BIN_SUFFIX = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]


class QuantityError(ValueError):
    """Not a quantity: upstream answers ``quantities must match the regular expression ...``."""


def parse(text: str | int | float) -> tuple[Fraction, str]:
    """Value and format ("BinarySI", "DecimalSI", "DecimalExponent") of a quantity."""
    if isinstance(text, bool):
        raise QuantityError(str(text))
    if isinstance(text, (int, float)):
        return Fraction(str(text)), "DecimalSI"
    m = _RE.match(text.strip())
    if not m:
        raise QuantityError(text)
    number = Fraction(m.group(1))
    if m.group(2):
        return number * Fraction(10) ** int(m.group(2)[1:]), "DecimalExponent"
    suffix = m.group(3) or ""
    if suffix in _BIN:
        return number * 1024 ** _BIN[suffix], "BinarySI"
    return number * Fraction(10) ** _DEC[suffix], "DecimalSI"


def value(text: str | int | float) -> Fraction:
    """Numeric value; raises QuantityError."""
    return parse(text)[0]


def _round_up_milli(v: Fraction) -> Fraction:
    scaled = v * 1000
    if scaled.denominator == 1:
        return v
    # RoundUp rounds away from zero.
    r = math.ceil(abs(scaled))
    return Fraction(r if v > 0 else -r, 1000)


def _decimal(v: Fraction, exponent_form: bool) -> str:
    if v == 0:
        return "0"
    sign = "-" if v < 0 else ""
    v = abs(v)
    best = None
    for exp in range(18, -10, -3):
        mant = v / Fraction(10) ** exp
        if mant.denominator == 1:
            best = (int(mant), exp)
            break
    if best is None:  # finer than nano: cannot happen after milli rounding
        return sign + str(float(v))
    mant, exp = best
    if exponent_form:
        return f"{sign}{mant}" + (f"e{exp}" if exp else "")
    return f"{sign}{mant}{_DEC_SUFFIX[exp]}"


def canonical(text: str | int | float) -> str:
    """The string the API server serializes for this quantity (after milli round-up)."""
    v, fmt = parse(text)
    v = _round_up_milli(v)
    if fmt == "BinarySI":
        if -1024 < v < 1024 or v.denominator != 1:
            fmt = "DecimalSI"
        else:
            n = int(v)
            sign = "-" if n < 0 else ""
            n = abs(n)
            exp = 0
            while exp < 6 and n % 1024 == 0:
                n //= 1024
                exp += 1
            return f"{sign}{n}{_BIN_SUFFIX[exp]}"
    return _decimal(v, fmt == "DecimalExponent")


def canonical_list(resources: dict | None) -> None:
    """Canonicalize a ResourceList in place, leaving unparsable values for validation to report."""
    if not isinstance(resources, dict):
        return
    for k, q in list(resources.items()):
        try:
            resources[k] = canonical(q)
        except (QuantityError, ValueError, ZeroDivisionError):
            pass
