"""What a benchmark figure was measured on: the machine, the versions and the command."""

from __future__ import annotations

import os
import platform
import sys


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe() -> dict:
    import numpy
    import scipy

    return {
        "cpu": _cpu_model(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        # other work on the machine slows both sides of a ratio; the absolute figures need this
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "command": " ".join(["python -m trirl.bench" if sys.argv[0].endswith("__main__.py") else os.path.basename(sys.argv[0]),
                             *sys.argv[1:]]),
    }
