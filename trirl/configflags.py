"""Command-line flags derived from a frozen config dataclass, so a flag is never restated by hand.

Every field of the dataclass gets a flag whose help is the field's own documentation (the
``Attributes:`` section of the class docstring, or a ``#:`` comment after the field). A nested
config dataclass (``ppo: PPOConfig``) gives dotted flags that mirror its TOML table: ``[ppo]
learning_rate`` is ``--ppo.learning-rate``. Every flag defaults to ``None`` (unset), so a TOML file
or the dataclass default decides; :func:`overrides` returns only what the user set, as nested
dicts to merge into the TOML data with :func:`merge`.

Supported field types: ``int``, ``float``, ``str``, ``bool`` (``--flag`` / ``--no-flag``),
``tuple[int, ...]`` (space-separated), nested dataclasses. Other types (``dict`` tables) stay
TOML-only.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import typing
from typing import Any

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
                     choices: dict[str, tuple] | None = None, exclude: tuple[str, ...] = (), _section: str = "") -> None:
    """Add one flag per field of the dataclass ``cls`` (recursing into nested config dataclasses).

    Args:
        aliases: extra flag spellings by dotted field name, e.g. ``{"total_steps": ("--steps",)}``.
        choices: allowed values by dotted field name.
        exclude: dotted field names that get no flag (set elsewhere or TOML-only).
    """
    aliases, choices = aliases or {}, choices or {}
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    group = parser.add_argument_group(f"[{_section}] table of the config" if _section else f"{cls.__name__} fields")
    for field in dataclasses.fields(cls):
        dotted = f"{_section}.{field.name}" if _section else field.name
        if dotted in exclude:
            continue
        kind = hints[field.name]
        if dataclasses.is_dataclass(kind):
            add_config_flags(parser, kind, aliases=aliases, choices=choices, exclude=exclude, _section=dotted)
            continue
        flags = [f"--{_flag(dotted)}", *aliases.get(dotted, ())]
        options: dict[str, Any] = {"dest": _PREFIX + dotted, "default": None, "help": docs.get(field.name, "")}
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        elif kind in _SCALARS:
            options.update(type=kind, metavar=field.name.upper())
        elif typing.get_origin(kind) is tuple and typing.get_args(kind)[:1] == (int,):
            options.update(type=int, nargs="+", metavar="N")
        else:
            continue  # tables (dict fields) are TOML-only
        if dotted in choices:
            options["choices"] = choices[dotted]
            options.pop("metavar", None)
        group.add_argument(*flags, **options)


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
        table[name] = list(value) if isinstance(value, list) else value
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
