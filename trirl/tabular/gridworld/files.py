"""The shipped grid worlds and world files: names, variants and :func:`load`.

A world ``NAME`` is ``gridworlds/NAME.toml`` next to its map ``gridworlds/NAME.txt``
(``gridworlds/README.md`` documents both); an installed wheel carries them
(:mod:`trirl.resources`). A user's own ``.toml`` file loads by path. ``tomllib`` keeps no
positions, so an error finds the line of the offending key in the file's text (best effort) and
names the file, the line and the key.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from trirl.errors import InvalidConfigError
from trirl.resources import data_dir
from trirl.tabular.gridworld.build import check_map, from_cells
from trirl.tabular.gridworld.spec import SPEC_KEYS, TOP_KEYS, VARIANT_KEYS, FieldError, GridSpec, Wind
from trirl.tabular.gridworld.world import GridWorld

#: the shipped worlds: ``gridworlds/`` of a checkout, or the copy an installed wheel carries
GRIDWORLDS_DIR = data_dir("gridworlds")
DEFAULT_WORLD = "icy_goal"


def names() -> list[str]:
    """The shipped worlds, sorted (stems of ``gridworlds/*.toml``)."""
    return sorted(path.stem for path in GRIDWORLDS_DIR.glob("*.toml"))


def variants(name_or_path) -> list[str]:
    """The variants a world defines (its ``[variants.NAME]`` tables), in file order.

    Raises:
        InvalidConfigError: an unknown world or a file that is not valid TOML.
    """
    path = _resolve(name_or_path)
    return list(_read_toml(path)[0].get("variants", {}))


def load(name_or_path: str | Path = DEFAULT_WORLD, variant: str | None = None) -> GridWorld:
    """Load a shipped world by name (default ``"icy_goal"``) or a ``.toml`` file by path.

    Args:
        name_or_path: a name from :func:`names` or a path to a world's TOML file.
        variant: ``None`` for the base world, or a name from :func:`variants`; its keys
            override the base settings (tables merged key by key).

    Returns:
        The :class:`GridWorld` (see :func:`~trirl.tabular.gridworld.from_cells`).

    Raises:
        InvalidConfigError: naming the file, and the line and column where they are known.
    """
    path = _resolve(name_or_path)
    data, text = _read_toml(path)
    _check_keys(data, TOP_KEYS, path, text, None)
    table = {k: v for k, v in data.items() if k in SPEC_KEYS}
    if variant is not None:
        known = data.get("variants", {})
        if not isinstance(known, dict) or variant not in known:
            raise InvalidConfigError(
                f"{path}: unknown variant {variant!r}; expected one of {list(known) if isinstance(known, dict) else []}"
            )
        overrides = known[variant]
        if not isinstance(overrides, dict):
            raise InvalidConfigError(f"{_where(path, text, variant, 'variants')}: variants.{variant} must be a table")
        _check_keys(overrides, VARIANT_KEYS, path, text, f"variants.{variant}")
        table = _merge(table, overrides)
    section = f"variants.{variant}" if variant is not None else None
    spec = _spec(table, path, text, section)
    map_path = path.parent / table.get("map", path.stem + ".txt")
    try:
        map_text = map_path.read_text()
    except OSError as error:
        raise _map_error(path, text, data, variant, map_path, error) from None
    cells = check_map(map_text.splitlines(), str(map_path))
    try:
        return from_cells(cells, spec, name=str(data.get("name", path.stem)), variant=variant)
    except InvalidConfigError as error:
        raise InvalidConfigError(f"{map_path}: {error}") from None


def _map_error(path: Path, text: str, data: dict, variant: str | None, map_path: Path, error: OSError):
    """The error of a map file that cannot be read: the file, the ``[section] map`` key that names it
    (or the default beside the .toml), the world and the reason, without a raw errno message."""
    section = f"variants.{variant}" if variant is not None and "map" in data["variants"][variant] else None
    if section is not None or "map" in data:
        key = f"[{section}] map" if section else "map"
        where = f"{_where(path, text, 'map', section)}: {key} = {(data['variants'][variant] if section else data)['map']!r}"
    else:
        where = f"{path}: no map key, so the map is {map_path.name} beside it"
    reason = "does not exist" if isinstance(error, FileNotFoundError) else f"cannot be read ({error.strerror or error})"
    world = f"world {data.get('name', path.stem)!r}" + (f", variant {variant!r}" if variant else "")
    return InvalidConfigError(f"{where} ({world}): the map file {map_path} {reason}; a map path is relative to the "
                              f"folder of the .toml (format: gridworlds/README.md)")


def _is_path(name_or_path) -> bool:
    """A world given by path (a ``.toml`` suffix or a folder), not by a shipped name."""
    given = Path(name_or_path)
    return given.suffix == ".toml" or given.parent != Path(".")


def portable(name_or_path) -> str:
    """``name_or_path`` as it loads from any working folder: a path made absolute, a shipped name as it is
    (what a saved rerun or resume command records)."""
    return str(Path(name_or_path).resolve()) if _is_path(name_or_path) else str(name_or_path)


def _resolve(name_or_path) -> Path:
    given = Path(name_or_path)
    if given.suffix not in ("", ".toml"):  # a map given for its world: the settings live in the .toml
        beside = given.with_suffix(".toml")
        raise InvalidConfigError(
            f"{given}{'' if given.is_file() else ' (which does not exist)'} is not a world's .toml"
            + (" but a map" if given.suffix == ".txt" else "")
            + ": pass the world's .toml, which names its map (map = \"" + given.name + "\") and sets what a map "
            "alone does not (rewards, discount, absorbing cells, start)"
            + (f"; {beside} is beside it" if beside.is_file() else "; gridworlds/README.md shows the format"))
    if _is_path(given):
        if not given.is_file():
            raise InvalidConfigError(f"grid world file {given} does not exist")
        return given
    path = GRIDWORLDS_DIR / f"{given}.toml"
    if not path.is_file():
        raise InvalidConfigError(f"unknown grid world {str(name_or_path)!r}; shipped worlds: {names()}")
    return path


def _read_toml(path: Path) -> tuple[dict, str]:
    text = path.read_text()
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
        message = str(error).split(" (at line")[0]
        where = f", line {match[1]}, column {match[2]}" if match else ""
        raise InvalidConfigError(f"{path}{where}: TOML syntax error: {message}") from None


def _merge(base: dict, overrides: dict) -> dict:
    """Override ``base`` by ``overrides``, merging nested tables key by key."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = _merge(merged[key], value)
        merged[key] = value
    return merged


def _line_of(text: str, key: str, section: str | None) -> int | None:
    """Best-effort line of ``key`` (tomllib keeps no positions): first match after ``[section]``."""
    lines = text.splitlines()
    start = 0
    if section is not None:
        header = re.compile(r"^\s*\[\s*" + re.escape(section) + r"\s*\]")
        start = next((i for i, line in enumerate(lines) if header.match(line)), 0)
    pattern = re.compile(r"(^|[\s{,.\[\"'])" + re.escape(key) + r"[\"']?\s*[=.\]]")
    for i in [*range(start, len(lines)), *range(start)]:
        if pattern.search(lines[i].split("#")[0]):
            return i + 1
    return None


def _where(path, text, key, section) -> str:
    line = _line_of(text, key, section)
    return f"{path}, line {line}" if line else str(path)


def _check_keys(table: dict, allowed, path, text, section) -> None:
    for key in table:
        if key not in allowed:
            where = f"[{section}]" if section else "the top level"
            raise InvalidConfigError(
                f"{_where(path, text, key, section)}: unknown key {key!r} in {where}; expected one of {list(allowed)}"
            )


def _spec(table: dict, path: Path, text: str, section: str | None) -> GridSpec:
    """Turn one (merged) settings table into a :class:`GridSpec`, blaming the line of a bad key."""
    try:
        wind = table.get("wind", {})
        if not isinstance(wind, dict) or set(wind) - {"direction", "probability"}:
            raise FieldError("wind", "wind must be a table with keys direction and probability")
        settings = {k: v for k, v in table.items() if k not in ("wind", "map", "description")}
        return GridSpec(**settings, wind=Wind(**wind))
    except FieldError as error:
        raise InvalidConfigError(f"{_where(path, text, error.key, section)}: {error}") from None
