"""Command-line flags derived from a frozen config dataclass, so a flag is never restated by hand.

Every field of the dataclass gets a flag whose help is the field's own documentation (the
``Attributes:`` section of the class docstring, or a ``#:`` comment after the field). A nested
config dataclass (``ppo: PPOConfig``) gives dotted flags that mirror its TOML table: ``[ppo]
learning_rate`` is ``--ppo.learning-rate``. Every flag defaults to ``None`` (unset), so a TOML file
or the dataclass default decides; :func:`overrides` returns only what the user set, as nested
dicts to merge into the TOML data with :func:`merge`.

A command's own options (``trirl evaluate``, ``trirl bench continuous``: no TOML file behind
them) are a frozen dataclass too: :func:`add_option_flags` adds its flags (a field without a
default is a required flag; the help shows each default) and :func:`options_from_args` builds it
from what the user set, so its ``__post_init__`` validates every value in one place.

Supported field types: ``int``, ``float``, ``str``, ``bool`` (``--flag`` / ``--no-flag``),
``tuple[int | float | str, ...]`` (items separated by spaces or commas: ``--envs 1024 4096`` or
``--envs 1024,4096``), ``X | None`` (as ``X``; unset is ``None``), nested dataclasses. Other
types (``dict`` tables) stay TOML-only. A value of the wrong form is refused by argparse with
``argument --flag: expected ...``, naming the flag.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import math
import re
import types
import typing
from typing import Any

from trirl.errors import InvalidConfigError
from trirl.text import plain

_PREFIX = "config:"
_SCALARS = (int, float, str)


def field_docs(cls) -> dict[str, str]:
    """``{field: one-line documentation}`` from ``cls``'s ``Attributes:`` docstring section and
    its ``#:`` field comments (the comment wins)."""
    docs: dict[str, str] = {}
    doc = inspect.getdoc(cls) or ""
    match = re.search(r"^Attributes:\n((?:[ \t]+.*\n?|\n)+)", doc, flags=re.MULTILINE)
    if match:
        name = None
        for line in match.group(1).splitlines():
            entry = re.match(r"^ {4}(\w+)(?: \(.*?\))?:\s*(.*)$", line)
            if entry:
                name = entry.group(1)
                docs[name] = entry.group(2).strip()
            elif name and line.strip():
                docs[name] += " " + line.strip()
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):  # no source (frozen app): the docstring alone
        return docs
    for line in source.splitlines():
        comment = re.match(r"^\s+(\w+)\s*:[^#]*#:\s*(.*)$", line)
        if comment:
            docs[comment.group(1)] = comment.group(2).strip()
    return docs


def _flag(name: str) -> str:
    return name.replace("_", "-")


def add_config_flags(parser: argparse.ArgumentParser, cls, *, aliases: dict[str, tuple[str, ...]] | None = None,
                     choices: dict[str, tuple] | None = None, exclude: tuple[str, ...] = (), _section: str = "",
                     _options: bool = False) -> None:
    """Add one flag per field of the dataclass ``cls`` (recursing into nested config dataclasses).

    Args:
        aliases: extra flag spellings by dotted field name, e.g. ``{"total_steps": ("--steps",)}``.
        choices: allowed values by dotted field name.
        exclude: dotted field names that get no flag (set elsewhere or TOML-only).
    """
    aliases, choices = aliases or {}, choices or {}
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    title = f"[{_section}] table of the config" if _section else None if _options else f"{cls.__name__} fields"
    group = parser.add_argument_group(title) if title else parser
    for field in dataclasses.fields(cls):
        dotted = f"{_section}.{field.name}" if _section else field.name
        if dotted in exclude:
            continue
        kind = _unwrap_optional(hints[field.name])
        if dataclasses.is_dataclass(kind):
            add_config_flags(parser, kind, aliases=aliases, choices=choices, exclude=exclude, _section=dotted,
                             _options=_options)
            continue
        flags = [f"--{_flag(dotted)}", *aliases.get(dotted, ())]
        text = plain(docs.get(field.name, ""))  # a terminal shows no reST markup
        options: dict[str, Any] = {"dest": _PREFIX + dotted, "default": None}
        item = typing.get_args(kind)[0] if typing.get_origin(kind) is tuple else None
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        elif kind in _SCALARS:
            options.update(type=kind, metavar=field.name.upper())
            if dotted in choices:
                options["choices"] = choices[dotted]
                options.pop("metavar")
        elif item in _SCALARS and typing.get_args(kind)[1:] == (Ellipsis,):
            options.update(type=_items(item, choices.get(dotted)), nargs="+", metavar=_ITEM_METAVAR[item])
            if dotted in choices:
                text += f" (from {', '.join(map(str, choices[dotted]))})"
        else:
            continue  # tables (dict fields) are TOML-only
        if _options:
            missing = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
            if missing:
                options["required"] = True
            elif field.default is not None and field.default is not dataclasses.MISSING and "default" not in text:
                shown = field.default
                if isinstance(shown, tuple):
                    shown = " ".join(map(str, shown))
                elif isinstance(shown, bool):
                    shown = f"--{_flag(dotted)}" if shown else f"--no-{_flag(dotted)}"
                text += f" (default: {shown})"
        options["help"] = text
        group.add_argument(*flags, **options)


_ITEM_METAVAR = {int: "N", float: "X", str: "NAME"}


def _unwrap_optional(kind):
    """``X`` for ``X | None`` (and ``Optional[X]``), else ``kind``."""
    if typing.get_origin(kind) in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return kind


def _items(kind, allowed: tuple | None = None):
    """argparse ``type=`` for one word of a tuple flag: ``"1,2"`` -> ``[1, 2]`` (spaces or commas)."""
    expected = {int: "integers", float: "numbers", str: "names"}[kind]
    if allowed is not None:
        expected += f" from {', '.join(map(str, allowed))}"

    def parse(text: str) -> list:
        try:
            values = [kind(part) for part in text.split(",") if part.strip()]
        except ValueError:
            values = None
        if not values or (allowed is not None and any(v not in allowed for v in values)):
            raise argparse.ArgumentTypeError(f"expected {expected}, separated by spaces or commas; got {text!r}")
        return values

    parse.__name__ = expected
    return parse


def add_option_flags(parser: argparse.ArgumentParser, cls, *, aliases: dict[str, tuple[str, ...]] | None = None,
                     choices: dict[str, tuple] | None = None) -> None:
    """Add one flag per field of a command's options dataclass ``cls`` (see the module doc).

    As :func:`add_config_flags`, except that a field without a default becomes a required flag
    and each flag's help ends with its default. Read the flags back with :func:`options_from_args`.
    """
    add_config_flags(parser, cls, aliases=aliases, choices=choices, _options=True)


def options_from_args(cls, args: argparse.Namespace):
    """``cls`` built from the flags the user set (:func:`add_option_flags`); the others keep the
    dataclass's defaults. ``cls.__post_init__`` validates: its error names the flag."""
    return cls(**{name: tuple(value) if isinstance(value, list) else value for name, value in overrides(args).items()})


def flag(name: str) -> str:
    """The flag of a field: ``reward_scale`` -> ``--reward-scale``."""
    return "--" + _flag(name)


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields the user set on the command line, nested by TOML table."""
    out: dict[str, Any] = {}
    for dest, value in vars(args).items():
        if not dest.startswith(_PREFIX) or value is None:
            continue
        *sections, name = dest[len(_PREFIX):].split(".")
        table = out
        for section in sections:
            table = table.setdefault(section, {})
        if isinstance(value, list):  # a tuple flag: each word gave a list of items (commas)
            value = [item for word in value for item in (word if isinstance(word, list) else [word])]
        table[name] = value
    return out


def merge(data: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    """``data`` with ``updates`` applied: tables merged key by key, ``None`` values skipped."""
    merged = dict(data)
    for key, value in updates.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# -- validation generated from the field types ------------------------------------------------------

_BOUND = re.compile(r"^\s*(?:(>=|>|<=|<)\s*(\S+)|([\[(])\s*(\S+)\s*,\s*(\S+)\s*([\])]))\s*$")


def _within(value, bound: str) -> bool:
    match = _BOUND.match(bound)
    if match is None:
        raise ValueError(f"bad bound {bound!r}: expected '> x', '>= x', '< x', '<= x' or an interval '[a, b)'")
    if match[1]:
        limit = float(match[2])
        return {">": value > limit, ">=": value >= limit, "<": value < limit, "<=": value <= limit}[match[1]]
    low, high = float(match[4]), float(match[5])
    above = value >= low if match[3] == "[" else value > low
    below = value <= high if match[6] == "]" else value < high
    return above and below


def _describe(kind, bound: str | None) -> str:
    text = {int: "an integer", float: "a finite number", bool: "true or false", str: "a string"}[kind]
    if bound is None:
        return text
    match = _BOUND.match(bound)
    return f"{text} {bound.strip()}" if match[1] else f"{text} in {bound.strip()}"


def check_fields(config, bounds: dict[str, str] | None = None) -> None:
    """Validate every field of the frozen dataclass ``config`` from its type, then its ``bounds``.

    Generated from the field types, so a new field is checked without a new line: an ``int`` is an
    integer (not a bool), a ``float`` a finite number (NaN and infinities are refused), a ``bool``
    a bool, a ``str`` a string, a ``tuple[int, ...]`` (``[float, ...]``) integers (finite
    numbers); ``X | None`` may also be ``None``; nested dataclasses and tables are left to their
    own checks. ``bounds`` adds a range by field name, checked for each item of a tuple:
    ``"> 0"``, ``">= 1"``, ``"[0, 1)"`` (e.g. ``{"policy_hidden": ">= 1"}``: every width >= 1).

    Raises:
        InvalidConfigError: ``ClassName.field must be <expected>, got <value>`` (the form
            :func:`trirl.configfile.build_config` turns into ``[section] key`` or the flag).
    """
    bounds = bounds or {}
    hints = typing.get_type_hints(type(config))
    for field in dataclasses.fields(config):
        value, kind = getattr(config, field.name), hints[field.name]
        optional = _unwrap_optional(kind) is not kind
        kind = _unwrap_optional(kind)
        if (optional and value is None) or dataclasses.is_dataclass(kind):
            continue
        item = typing.get_args(kind)[0] if typing.get_origin(kind) is tuple else None
        bound = bounds.get(field.name)
        where = f"{type(config).__name__}.{field.name}"
        if item is not None:
            expected = f"a list of {_PLURAL[item]}" + (f" {bound.strip()}" if bound else "")
            items = value if isinstance(value, (tuple, list)) else None
            if items is None or not all(_typed(v, item) and _in_bounds(v, bound) for v in items):
                raise InvalidConfigError(f"{where} must be {expected}, got {value!r}")
        elif kind in (int, float, bool, str):
            if not _typed(value, kind):
                raise InvalidConfigError(f"{where} must be {_describe(kind, bound)}, got {value!r}")
            if not _in_bounds(value, bound):
                shown = bound.strip() if _BOUND.match(bound)[1] else f"in {bound.strip()}"
                raise InvalidConfigError(f"{where} must be {shown}, got {value!r}")


_PLURAL = {int: "integers", float: "finite numbers", str: "strings", bool: "true or false values"}


def _typed(value, kind) -> bool:
    """``value`` is a ``kind`` (an int for a float too; a float must be finite; a bool is no number)."""
    if kind is bool or kind is str:
        return isinstance(value, kind)
    if isinstance(value, bool) or not isinstance(value, int if kind is int else (int, float)):
        return False
    return kind is int or math.isfinite(value)


def _in_bounds(value, bound: str | None) -> bool:
    return bound is None or isinstance(value, (bool, str)) or _within(value, bound)
