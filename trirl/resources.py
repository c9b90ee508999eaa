"""The data trirl ships: grid worlds, continuous experiment configs, committed experts and demos.

In a source checkout they are the top-level folders ``gridworlds/`` and ``continuous/`` (the
layout of the repository). The wheel carries the same files as package data under
``trirl/_data/<folder>/`` (``pyproject.toml`` maps the folders there, no copy in git); they are
found through :mod:`importlib.resources`. An installed wheel wins over a checkout so that an
installed ``trirl`` never reads a stray folder next to ``site-packages``.

A user's own path is never looked up here: callers take a path when one is given and ask this
module only for a shipped name.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from trirl.errors import InvalidConfigError

#: the top-level folders of a checkout that the wheel carries
FOLDERS = ("gridworlds", "continuous")

_CHECKOUT = Path(__file__).resolve().parents[1]


def data_dir(folder: str) -> Path:
    """The directory holding the shipped ``folder`` (one of :data:`FOLDERS`).

    Returns:
        ``trirl/_data/<folder>`` of an installed wheel, else ``<checkout>/<folder>``.

    Raises:
        InvalidConfigError: for an unknown folder, or when neither location exists (a broken
            install), naming both places looked in.
    """
    if folder not in FOLDERS:
        raise InvalidConfigError(f"data folder {folder!r} is not shipped; expected one of {FOLDERS}")
    shipped = resources.files("trirl").joinpath("_data", folder)
    if shipped.is_dir():
        return Path(str(shipped))
    checkout = _CHECKOUT / folder
    if checkout.is_dir():
        return checkout
    raise InvalidConfigError(
        f"trirl's shipped {folder}/ is missing: looked in {shipped} (installed wheel) and {checkout} "
        "(source checkout); reinstall trirl"
    )
