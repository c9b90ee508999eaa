"""What a reported figure was measured on: the machine, the versions, the command and the commit.

Every results file trirl writes (benchmarks, ``trirl evaluate``, ``trirl expert evaluate``, the
studies, the simulator-equivalence record) records :func:`machine` and, where it is a result
of the source as it stood, :func:`source_commit`.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine(accelerator: bool = False, command: bool = True) -> dict:
    """The machine and versions a figure was measured on.

    Args:
        accelerator: add ``jax``, ``jax_backend`` and ``jax_devices`` (imports JAX).
        command: add ``command``, the command line of this process (``python -m trirl.bench``
            when run as that module); a result that records its own command passes ``False``.

    Returns:
        ``cpu``, ``cores`` (those this process may use), ``platform``, ``python``,
        ``load_average_1min`` (other work on the machine slows both sides of a ratio; absolute
        figures need it), ``numpy``, ``scipy``, and the entries above.
    """
    import numpy
    import scipy

    info = {
        "cpu": _cpu_model(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
    }
    if command:
        program = "python -m trirl.bench" if sys.argv[0].endswith("__main__.py") else os.path.basename(sys.argv[0])
        info["command"] = " ".join([program, *sys.argv[1:]])
    if accelerator:
        import jax

        info.update(jax=jax.__version__, jax_backend=jax.default_backend(), jax_devices=[str(d) for d in jax.devices()])
    return info


def source_commit() -> str | None:
    """The git commit of the trirl source that ran (``+dirty`` with uncommitted changes to tracked
    files), or ``trirl VERSION`` when trirl is not a git checkout, or ``None`` when neither is known."""
    import trirl

    root = Path(trirl.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"trirl {version('trirl')}"
        except PackageNotFoundError:
            return None
    return commit + ("+dirty" if dirty else "")
