"""JAX's persistent compilation cache for the continuous command lines.

A PPO or TRIRL iteration on MJX takes 1-2 minutes to compile on a laptop CPU; with the cache a
resumed piece of a long run (``--resume``) loads the compiled program from disk instead. The
command lines (``trirl expert``, ``train``, ``evaluate``, ``bench continuous``) turn it on by
default, in this folder (first match wins):

1. ``--compile-cache DIR``;
2. the environment variable ``TRIRL_COMPILE_CACHE``;
3. ``$XDG_CACHE_HOME/trirl/jax``, else ``~/.cache/trirl/jax``.

``--no-compile-cache`` turns it off (``jax_enable_compilation_cache = False``, which also
overrides a ``JAX_COMPILATION_CACHE_DIR`` set by the user). Only programs that took at least
``min_compile_time_s`` to compile are written (JAX's ``jax_persistent_cache_min_compile_time_secs``),
so the folder holds the few expensive programs, not every small helper. Entries are keyed by the
program, the JAX/XLA version and the device, so a stale entry is never used; the folder can be
deleted at any time.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import jax

ENV_VAR = "TRIRL_COMPILE_CACHE"
MIN_COMPILE_TIME_S = 1.0


def default_dir() -> Path:
    """``$TRIRL_COMPILE_CACHE``, else ``$XDG_CACHE_HOME/trirl/jax``, else ``~/.cache/trirl/jax``."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "trirl" / "jax"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--compile-cache DIR`` and ``--no-compile-cache`` to a command line."""
    parser.add_argument("--compile-cache", metavar="DIR",
                        help=f"JAX compilation cache folder (default: ${ENV_VAR}, else $XDG_CACHE_HOME/trirl/jax "
                             "or ~/.cache/trirl/jax)")
    parser.add_argument("--no-compile-cache", action="store_true",
                        help="do not read or write JAX's persistent compilation cache")


def configure(path: str | os.PathLike | None = None, enabled: bool = True,
              min_compile_time_s: float = MIN_COMPILE_TIME_S) -> Path | None:
    """Turn JAX's persistent compilation cache on in ``path`` (default :func:`default_dir`) or off.

    Call it before anything is compiled. Returns the cache folder, or None when disabled.
    """
    if not enabled:
        jax.config.update("jax_enable_compilation_cache", False)
        return None
    folder = Path(path).expanduser() if path else default_dir()
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_time_s))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder


def from_args(args: argparse.Namespace) -> Path | None:
    """:func:`configure` from the parsed ``--compile-cache`` / ``--no-compile-cache``."""
    return configure(args.compile_cache, enabled=not args.no_compile_cache)
