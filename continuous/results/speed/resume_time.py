"""How long a resumed piece of ``trirl train --config trirl_point_maze`` takes to start training, with JAX's
persistent compilation cache and without it, each piece a fresh process as a user starts it:

    JAX_PLATFORMS=cpu python continuous/results/speed/resume_time.py OUT.json [ITERATIONS_PER_CALL]

1. ``first``: a new run paused by ``--max-minutes`` after its first compiled call (fills an empty cache);
2. ``warm``: ``--resume`` for one more iteration with that cache (imports, restore, loading the compiled
   iteration and evaluation, the iteration, the evaluation, the checkpoint, the learning curves);
3. ``no_cache``: the same resumed piece again with ``--no-compile-cache``.

Each piece's wall clock and CPU seconds (the child process's, all threads) are the whole process, so
"the first update starts within" is at most the piece's time. Writes the machine and the commands.
"""
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trirl.provenance import machine
from trirl.rundir import read_metrics

out, per_call = Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "10"
BATCH = 32 * 32  # trirl_point_maze.toml: 32 envs x 32 steps


def piece(argv: list[str]) -> dict:
    command = [sys.executable, "-m", "trirl", "train", "--config", "trirl_point_maze", "--no-progress",
               "--iterations-per-call", per_call, *argv]
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return {"command": " ".join(command[1:]), "wall_s": time.perf_counter() - start,
            "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)}


with tempfile.TemporaryDirectory() as tmp:
    run, cache = Path(tmp) / "run", Path(tmp) / "cache"
    first = piece(["--out", str(run), "--compile-cache", str(cache), "--max-minutes", "0.001"])
    paused_at = read_metrics(run)[-1]["iteration"]
    steps = str((paused_at + 1) * BATCH)
    warm = piece(["--out", str(run), "--resume", "--steps", steps, "--compile-cache", str(cache)])
    again = Path(tmp) / "again"  # the same paused run, copied, resumed without the cache
    subprocess.run(["cp", "-r", str(run), str(again)], check=True)
    for row_file in (again / "checkpoints").glob(f"step_{paused_at + 1:08d}.npz"):
        row_file.unlink()  # back to the pause: the resumed iteration runs again
    (again / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in read_metrics(again)
                                                 if r["iteration"] <= paused_at))
    no_cache = piece(["--out", str(again), "--resume", "--steps", steps, "--no-compile-cache"])
result = {"machine": machine(accelerator=True, command=False),
          "command": "JAX_PLATFORMS=cpu python continuous/results/speed/resume_time.py " + " ".join(sys.argv[1:]),
          "iterations_per_call": int(per_call), "paused_at": paused_at,
          "first": first, "warm": warm, "no_cache": no_cache}
out.write_text(json.dumps(result, indent=1) + "\n")
print(f"paused at {paused_at}; resumed piece: {warm['wall_s']:.1f} s wall, {warm['cpu_s']:.1f} CPU s with the cache, "
      f"{no_cache['wall_s']:.1f} s, {no_cache['cpu_s']:.1f} CPU s without (first piece {first['wall_s']:.1f} s)")
