"""MuJoCo MJX, imported in one place without its notice about an optional backend.

mujoco-mjx (>= 3.3) prints ``Failed to import warp: ...`` and ``Failed to import mujoco_warp:
...`` to standard output at import when NVIDIA Warp, its optional GPU backend, is not installed.
trirl uses MJX's JAX backend only, so those two lines say nothing to a user of trirl and would
open every command's output; any other output of the import is passed through. Import MJX as
``from trirl.continuous.envs.mjx import mjx``.
"""

from __future__ import annotations

import contextlib
import io
import sys

_WARP_NOTICE = ("Failed to import warp:", "Failed to import mujoco_warp:")

_captured = io.StringIO()
with contextlib.redirect_stdout(_captured):
    from mujoco import mjx  # noqa: E402
for _line in _captured.getvalue().splitlines():
    if not _line.startswith(_WARP_NOTICE):
        print(_line, file=sys.stdout)

__all__ = ["mjx"]
