"""argparse ``type=`` functions that check a flag's range where it is read.

argparse reports a :class:`argparse.ArgumentTypeError` as ``argument --demos: expected an
integer >= 0, got -5``, so every message names the flag the user typed and nothing is computed
(or written) with a bad value. Used by ``trirl grid``, ``trirl compare`` and ``trirl verify``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def integer(low: int | None = None) -> Callable[[str], int]:
    """An integer ``>= low`` (any integer when ``low`` is None)."""
    expected = "an integer" + (f" >= {low}" if low is not None else "")

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if low is not None and value < low:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value

    parse.__name__ = expected  # argparse names the type in its own messages
    return parse


def number(low: float | None = None, high: float | None = None, *, low_open: bool = False,
           high_open: bool = False) -> Callable[[str], float]:
    """A finite float in the interval given by ``low``/``high`` (open ends where asked)."""
    if low is not None and high is not None:
        expected = f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    elif low is not None:
        expected = f"a number {'>' if low_open else '>='} {low:g}"
    elif high is not None:
        expected = f"a number {'<' if high_open else '<='} {high:g}"
    else:
        expected = "a finite number"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        inside = math.isfinite(value)
        if low is not None:
            inside = inside and (value > low if low_open else value >= low)
        if high is not None:
            inside = inside and (value < high if high_open else value <= high)
        if not inside:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
        return value

    parse.__name__ = expected
    return parse


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's formatter that ends each flag's help with its default, except where the default
    says nothing: ``None`` (the help says what leaving the flag out means) and a switch's ``False``."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)
