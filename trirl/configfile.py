"""Config files into frozen config dataclasses: the file half of the configuration layer.

:mod:`trirl.configflags` makes a command's flags from a config dataclass and checks every field
from its type; this module reads the TOML (or a run's ``config.json``) that the flags override
and builds the dataclass from it, so that a command parses its configuration once::

    path, data = read_config("trirl_point_maze")            # a path, or a shipped name
    data = configflags.merge(data, configflags.overrides(args))  # the flags the user set win
    config = build_config(TrainConfig, data, str(path), flags=override_flags(...))

Every error names where the bad value came from: ``FILE: [section] key = value: expected ...``,
or the flag that set it (``--ppo.learning-rate must be > 0, got -1.0``).
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trirl.errors import InvalidConfigError
from trirl.resources import data_dir

#: the shipped experiment configs and experts: ``continuous/`` of a checkout, or the wheel's copy
CONFIG_DIR = data_dir("continuous")


def _where(source: str, section: str | None, key: str, flags: Mapping[str, str]) -> str:
    """``FILE: [section] key`` (or the command-line flag that set it)."""
    dotted = key if section is None else f"{section}.{key}"
    if dotted in flags:
        return flags[dotted]
    return f"{source}: " + (f"[{section}] {key}" if section else key)


def _expected(kind) -> str:
    """How a field's type reads in an error message."""
    if kind is Any:
        return "any value"
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (types.UnionType, typing.Union):
        return " or ".join("nothing (leave the key out)" if a is type(None) else _expected(a) for a in args)
    if origin is tuple:
        item = _expected(args[0]).removeprefix("an ").removeprefix("a ")
        return f"a list of {item}s" if len(args) == 2 and args[1] is Ellipsis else f"a list of {len(args)} numbers"
    if origin in (dict, Mapping) or kind in (dict, Mapping):
        return "a table"
    return {int: "an integer", float: "a finite number", bool: "true or false", str: "a string"}.get(kind, kind.__name__)


def _coerce(value, kind):
    """``value`` as a ``kind`` (TOML arrays become tuples, integers become floats), or raise TypeError."""
    if kind is Any:
        return value
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (types.UnionType, typing.Union):
        for option in args:
            if option is type(None):
                if value is None:
                    return None
                continue
            try:
                return _coerce(value, option)
            except TypeError:
                pass
        raise TypeError
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise TypeError
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(item, args[0]) for item in value)
        if len(value) != len(args):
            raise TypeError
        return tuple(_coerce(item, option) for item, option in zip(value, args))
    if origin in (dict, Mapping) or kind in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise TypeError
        return dict(value)
    if kind is bool:
        if not isinstance(value, bool):
            raise TypeError
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError
        return value
    if kind is float:  # every float of every config is finite: NaN and infinities are refused by type
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise TypeError
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise TypeError
        return value
    return value


def _sections(cls, section: str | None = None) -> dict[str, str | None]:
    """Class name -> the TOML section its fields live in (``None``: top level), nested dataclasses included."""
    found = {cls.__name__: section}
    for name, kind in typing.get_type_hints(cls).items():
        if dataclasses.is_dataclass(kind):
            found.update({k: v for k, v in _sections(kind, name if section is None else f"{section}.{name}").items()
                          if k not in found})
    return found


def build_config(cls, data: Mapping[str, Any], source: str = "config", *, section: str | None = None,
                 skip: tuple[str, ...] = (), tables: Mapping[str, type | None] | None = None,
                 flags: Mapping[str, str] | None = None):
    """Build the frozen dataclass ``cls`` from a TOML (or JSON) table, checked generically.

    Every key must be a field of ``cls`` (``skip`` lists fields that cannot be set, dotted inside
    sections: ``"buffer.network"``), every value
    must have its field's type (``int``, ``float``, ``bool``, ``str``, ``tuple[...]``, unions,
    tables); a field whose type is a dataclass is a ``[section]`` built the same way, and
    ``tables`` gives the dataclass that checks a plain ``dict`` field (such as ``env_options``).
    The range checks are the dataclasses' own ``__post_init__``; their messages name fields as
    ``PPOConfig.learning_rate``, which becomes ``[ppo] learning_rate``.

    Raises:
        InvalidConfigError: naming ``source`` (the file), the ``[section] key``, the value and
            the expected type or range (or the command-line flag in ``flags`` that set a top-level key).
    """
    flags = flags or {}
    if not isinstance(data, Mapping):
        raise InvalidConfigError(f"{source}: expected a table of settings, got {type(data).__name__} {data!r}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)
             if f.init and (f.name if section is None else f"{section}.{f.name}") not in skip]
    unknown = sorted(set(data) - set(known))
    if unknown:
        where = f"{source}: " + (f"[{section}] " if section else "")
        raise InvalidConfigError(f"{where}unknown key{'s' if len(unknown) > 1 else ''} "
                                 f"{', '.join(unknown)}; the known keys are {', '.join(sorted(known))}")
    kwargs = {}
    for key, value in data.items():
        kind, inner = hints[key], key if section is None else f"{section}.{key}"
        if dataclasses.is_dataclass(kind):
            if not isinstance(value, Mapping):
                raise InvalidConfigError(f"{source}: {key} = {value!r}: expected a table [{inner}]")
            kwargs[key] = build_config(kind, value, source, section=inner, skip=skip, flags=flags)
            continue
        try:
            kwargs[key] = _coerce(value, kind)
        except TypeError:
            raise InvalidConfigError(f"{_where(source, section, key, flags)} = {value!r}: "
                                     f"expected {_expected(kind)}") from None
        if tables and tables.get(key) is not None:  # keys and types now; the ranges when cls is built
            _check_table(tables[key], kwargs[key], source, inner)
    missing = [f.name for f in dataclasses.fields(cls) if f.init and f.name not in kwargs
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        where = f"{source}: " + (f"[{section}] " if section else "")
        raise InvalidConfigError(f"{where}missing key{'s' if len(missing) > 1 else ''} " + ", ".join(
            f"{key} (expected {_expected(hints[key])})" for key in missing))
    try:
        return cls(**kwargs)
    except InvalidConfigError as err:
        raise InvalidConfigError(_locate(str(err), cls, source, section, flags, tables)) from None


def _check_table(cls, data: Mapping[str, Any], source: str, section: str) -> None:
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise InvalidConfigError(f"{source}: [{section}] unknown key{'s' if len(unknown) > 1 else ''} "
                                 f"{', '.join(unknown)}; the known keys are {', '.join(sorted(known))}")
    for key, value in data.items():
        try:
            _coerce(value, hints[key])
        except TypeError:
            raise InvalidConfigError(f"{source}: [{section}] {key} = {value!r}: expected {_expected(hints[key])}") from None


def _locate(message: str, cls, source: str, section: str | None, flags, tables) -> str:
    """``PPOConfig.learning_rate must be > 0`` -> ``FILE: [ppo] learning_rate must be > 0``."""
    sections = _sections(cls, section)
    for name, kind in (tables or {}).items():
        if kind is not None:
            sections.setdefault(kind.__name__, name if section is None else f"{section}.{name}")

    def where(match: re.Match) -> str:
        inner = sections[match[1]]
        dotted = match[2] if inner is None else f"{inner}.{match[2]}"
        if dotted in flags:
            return flags[dotted]
        return f"[{inner}] {match[2]}" if inner else match[2]

    pattern = r"\b(" + "|".join(map(re.escape, sections)) + r")\.(\w+)"
    located, count = re.subn(pattern, where, message)
    if not count:
        return f"{source}: " + (f"[{section}]: " if section else "") + message
    return located if located.startswith("--") else f"{source}: {located}"


def override_flags(overrides: Mapping[str, Any], aliases: Mapping[str, tuple[str, ...]] | None = None,
                   _section: str = "") -> dict[str, str]:
    """The command-line flag behind each non-None override, by dotted field name: the field's
    own (``ppo.value_coef`` is ``--ppo.value-coef``) or its first alias (``aliases={"total_steps":
    ("--steps",)}``: ``--steps``), the form :func:`trirl.configflags.add_config_flags` takes."""
    aliases = aliases or {}
    flags = {}
    for key, value in overrides.items():
        dotted = f"{_section}{key}"
        if isinstance(value, Mapping):
            flags.update(override_flags(value, aliases, f"{dotted}."))
        elif value is not None:
            flags[dotted] = aliases.get(dotted, ("--" + dotted.replace("_", "-"),))[0]
    return flags


#: the shipped TOML files that other commands run: (their kind, what one is, the command for FILE)
OTHER_KINDS = (("suite specs", "a suite spec ([tasks]), not a training config; run it with", "trirl bench suite FILE"),
               ("Table 1 studies", "a Table 1 study ([variants]), not a training config; run it with",
                "trirl bench table1 --study FILE"),
               ("expert configs", "an expert config (PPO on the true reward), not an IRL config; train it with",
                "trirl expert train --config FILE --out DIR"))


def other_kind(path: Path, data: Mapping[str, Any]) -> int | None:
    """Which of :data:`OTHER_KINDS` a config file is (``None``: a ``trirl train`` config): a suite
    spec has ``[tasks]``, a Table 1 study ``[variants]``, an expert config no ``algo`` and
    ``expert`` in its name."""
    if "tasks" in data:
        return 0
    if "variants" in data:
        return 1
    return 2 if "algo" not in data and "expert" in Path(path).stem else None


def shipped_kinds() -> dict[int | None, list[str]]:
    """The shipped config names (:data:`CONFIG_DIR`) by :func:`other_kind` (``None``: ``trirl train``'s)."""
    kinds: dict[int | None, list[str]] = {}
    for path in sorted(CONFIG_DIR.glob("*.toml")):
        try:
            with open(path, "rb") as handle:
                kind = other_kind(path, tomllib.load(handle))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue  # listed nowhere; naming it runs into the reader's own error
        kinds.setdefault(kind, []).append(path.stem)
    return kinds


def resolve_config(path: str | Path, flag: str = "--config", pattern: str = "*.toml", kind: str = "config",
                   training: bool = False) -> Path:
    """A config file by path, or a shipped config by name (``trirl_point_maze`` or
    ``trirl_point_maze.toml`` under :data:`CONFIG_DIR`).

    ``flag`` names the option in the error, ``pattern`` selects the shipped files it lists and
    ``kind`` says what they are (``trirl bench table1 --study`` passes ``"table*.toml"``, ``"study"``);
    ``training``: list only ``trirl train``'s configs and name the command of each other kind.

    Raises:
        InvalidConfigError: naming ``flag`` and the shipped names when neither exists.
    """
    path = Path(path)
    if path.exists():
        return path
    shipped = CONFIG_DIR / (path.name if path.suffix == ".toml" else f"{path.name}.toml")
    if path.parent in (Path("."), Path("continuous")) and shipped.is_file():
        return shipped
    if training:
        kinds = shipped_kinds()
        others = "; ".join(f"{OTHER_KINDS[k][0]} (run with {OTHER_KINDS[k][2].replace('FILE', 'NAME')}): "
                           f"{', '.join(kinds[k])}" for k in range(len(OTHER_KINDS)) if kinds.get(k))
        raise InvalidConfigError(f"{flag}: {path} does not exist and is not a shipped training config; shipped: "
                                 f"{', '.join(kinds.get(None, []))}" + (f". Not for trirl train: {others}" if others else ""))
    names = sorted(p.stem for p in CONFIG_DIR.glob(pattern))
    raise InvalidConfigError(f"{flag}: {path} does not exist and is not a shipped {kind}; shipped: {names}")


def read_config(path: str | Path, flag: str = "--config", training: bool = False) -> tuple[Path, dict[str, Any]]:
    """The TOML table of ``flag`` (a path or a shipped name, :func:`resolve_config`, which
    ``training`` passes on) and its path.

    Raises:
        InvalidConfigError: naming ``flag`` when the file is missing or not valid TOML.
    """
    path = resolve_config(path, flag, training=training)
    try:
        with open(path, "rb") as handle:
            return path, tomllib.load(handle)
    except tomllib.TOMLDecodeError as err:
        raise InvalidConfigError(f"{flag} {path}: not valid TOML ({err})") from None
    except UnicodeDecodeError:
        raise InvalidConfigError(f"{flag} {path}: not UTF-8 text; expected a TOML file") from None
    except OSError as err:
        raise InvalidConfigError(f"{flag} {path}: cannot be read ({err.strerror or err}); expected a TOML file") from None
