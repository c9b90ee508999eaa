"""Reading and writing trirl's files: one reader that names the file, atomic writers that say why.

Every file trirl loads (demonstrations, checkpoints, ``config.json``, ``returns.json`` and
results) is read through :func:`read_json` or :func:`read_npz`: any decoding failure (a truncated
or empty file, a ``.npy`` renamed ``.npz``, pickled objects, text that is not JSON, an array of
the wrong dtype or shape) becomes one error naming the file, what is wrong with it and what it
should hold. Files are written atomically (:func:`write_json`: a temporary file renamed into
place), and a failed write (no space, a read-only folder) raises
:class:`~trirl.errors.RunDirWriteError` naming the path and the reason (:func:`write_failure`).
"""

from __future__ import annotations

import errno as errno_codes
import json
import math
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from trirl.errors import RunDirWriteError, TrirlError, UnreadableFileError


def to_jsonable(value: Any) -> Any:
    """numpy scalars and arrays, tuples and paths to plain JSON values; NaN and inf are refused."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"refusing to write the non-finite value {value!r}")
    return value


def _file_mode() -> int:
    """The mode ``open()`` would give a new file (0o666 less the umask); ``mkstemp``'s is 0o600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _file_mode())  # readable as any file the user writes, not private to the writer
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically.

    Raises:
        RunDirWriteError: the write failed (no space, a read-only folder): path, reason, remedy.
    """
    text = json.dumps(to_jsonable(obj), indent=2, sort_keys=True, allow_nan=False)
    try:
        _atomic_write_bytes(Path(path), (text + "\n").encode())
    except OSError as err:
        raise write_failure(Path(path), err, f"{path} was not changed", "run the command again") from None


# -- reading: one reader for every file trirl loads --------------------------------------------------

def _what_it_is(path: Path) -> str:
    """What a file that failed to decode looks like, from its size and first bytes."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError as err:
        return f"it cannot be read: {err.strerror or err}"
    if size == 0:
        return "it is empty (0 bytes)"
    if head.startswith(b"PK"):
        return f"it is a damaged or truncated zip archive ({size} bytes)"
    if head.startswith(b"\x93NUMPY"):
        return f"it is a single .npy array, not an .npz archive ({size} bytes)"
    return f"it is not a zip archive ({size} bytes, starting {head[:4]!r})"


def read_json(path: str | os.PathLike, expected: str, kind: type = dict, error: type[TrirlError] = UnreadableFileError):
    """The JSON value in ``path``, which must be a ``kind`` (``dict``: an object).

    ``expected`` says what the file should hold (``"the run's configuration"``); it ends every
    message. Raises ``error`` (default :class:`~trirl.errors.UnreadableFileError`) naming the file
    when it is missing, unreadable, not UTF-8 JSON or not a ``kind``.
    """
    path = Path(path)
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise error(f"{path} does not exist; expected {expected}") from None
    except OSError as err:
        raise error(f"{path} cannot be read ({err.strerror or err}); expected {expected}") from None
    except UnicodeDecodeError:
        raise error(f"{path} is not UTF-8 text ({_what_it_is(path)}); expected {expected} as JSON") from None
    except json.JSONDecodeError as err:
        reason = "it is empty" if not err.doc.strip() else f"line {err.lineno}, column {err.colno}: {err.msg}"
        raise error(f"{path} is not valid JSON ({reason}); expected {expected}") from None
    if not isinstance(value, kind):
        form = {dict: "a JSON object {...}", list: "a JSON list [...]"}.get(kind, kind.__name__)
        raise error(f"{path} holds a JSON {type(value).__name__}, not {form}; expected {expected}")
    return value


#: ``read_npz(schema=...)``: numpy dtype kinds by name ("i" signed and "u" unsigned integers, "f" floats, "b" bools)
_KINDS = {"i": "an integer", "u": "an unsigned integer", "f": "a floating", "b": "a boolean", "iu": "an integer"}


def read_npz(path: str | os.PathLike, expected: str, schema: Mapping[str, tuple[tuple | None, str]] | None = None,
             error: type[TrirlError] = UnreadableFileError) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` archive ``path`` (pickled objects refused), as ``{name: array}``.

    ``schema`` checks the arrays it names, when present: ``{name: (shape, kinds)}`` with ``shape``
    a tuple (``None`` entries match any length; ``None`` alone: any shape) and ``kinds`` numpy
    dtype kinds (``"iu"``: any integer). Raises ``error`` (default
    :class:`~trirl.errors.UnreadableFileError`) naming the file, what is wrong (empty, truncated,
    a ``.npy`` array, pickled data, an array of the wrong shape or dtype) and ``expected``.
    """
    path = Path(path)
    if not path.exists():
        raise error(f"{path} does not exist; expected {expected}")
    try:
        with open(path, "rb") as handle:  # ours to close, whatever numpy raises
            loaded = np.load(handle, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise error(f"{path} is a single .npy array, not an .npz archive; expected {expected}")
            with loaded:
                arrays = {name: loaded[name] for name in loaded.files}
    except TrirlError:
        raise
    except Exception as err:  # noqa: BLE001
        # numpy and zipfile raise a dozen kinds (BadZipFile, EOFError, zlib.error, ValueError, and
        # tokenize's TokenError from a damaged .npy header): each means "cannot be decoded"
        if path.stat().st_size and zipfile.is_zipfile(path):
            pickled = isinstance(err, ValueError) and "pickle" in str(err)
            reason = ("it holds pickled Python objects, which trirl never loads" if pickled
                      else f"an array in it is damaged ({type(err).__name__}: {err})")
        else:
            reason = _what_it_is(path)
        raise error(f"{path} is not a readable .npz archive: {reason}; expected {expected}") from None
    for name, (shape, kinds) in (schema or {}).items():
        if name not in arrays:
            continue
        value = arrays[name]
        if value.dtype.kind not in kinds:
            raise error(f"{path}: {name!r} has dtype {value.dtype}, not {_KINDS.get(kinds, kinds)} array; "
                        f"expected {expected}")
        if shape is not None and (value.ndim != len(shape)
                                  or any(n is not None and n != m for n, m in zip(shape, value.shape))):
            wanted = "a single number" if shape == () else f"shape {tuple('any' if n is None else n for n in shape)}"
            raise error(f"{path}: {name!r} has shape {value.shape}, not {wanted}; expected {expected}")
    return arrays


def write_failure(path: Path, err: OSError, kept: str, then: str = "continue with --resume") -> RunDirWriteError:
    """The error of a failed write of ``path``: the reason (``os.strerror``), the errno's name, what
    is ``kept``, and what to do (the cause's remedy, ``then``)."""
    code = err.errno
    reason = os.strerror(code) if code else str(err)
    name = f", {errno_codes.errorcode[code]}" if code in errno_codes.errorcode else ""
    hint = {errno_codes.ENOSPC: "free some space", errno_codes.EDQUOT: "free some space (disk quota)",
            errno_codes.EROFS: "make the folder writable", errno_codes.EACCES: "make the folder writable"}.get(
        code, "fix the cause")
    error = RunDirWriteError(f"cannot write {path}: {reason} (errno {code}{name}). {kept}; {hint}, then {then}")
    error.errno, error.strerror, error.filename = code, reason, str(path)
    return error
