"""Record or check that every command's numbers are unchanged by a refactoring.

    python .ci/golden_runs.py record golden.json    # on the commit before the change
    python .ci/golden_runs.py check golden.json     # on the commit after it (same machine)

Runs each command of trirl on tiny configurations (``trirl grid`` with and without
demonstrations and the safeguard, ``trirl train`` for every algorithm, ``trirl expert train``,
``trirl evaluate``'s retraining, ``trirl bench table1`` on the tiny study) and digests what they
write: every numeric value of ``metrics.jsonl`` (wall-clock fields left out) and every array of
every checkpoint. ``check`` fails with the names of the runs whose digests differ. Bitwise
comparison is only meaningful on one machine with one XLA build: record and check here, back
to back (two checkouts may be compared: paths inside the checkout are written as REPO). About 4
minutes on a 2-core CPU.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

#: the checkout whose trirl runs (paths inside it are written as REPO, so two checkouts compare)
REPO = Path(subprocess.run([sys.executable, "-c", "import trirl, pathlib; print(pathlib.Path(trirl.__file__).resolve().parents[1])"],
                           capture_output=True, text=True, check=True).stdout.strip())
TIME_WORDS = ("time", "seconds", "wall", "per_s", "per_sec", "elapsed", "minutes", "duration")

TRAIN = """
env = "point_maze"
algo = "{algo}"
seed = 1
seeds = 2
total_steps = 128
eval_every = 2
eval_episodes = 2
checkpoint_every = 2

[env_options]
episode_length = 20

[ppo]
num_envs = 4
rollout_length = 8
num_epochs = 2
num_minibatches = 2
policy_hidden = [16]
value_hidden = [16]

[discriminator]
hidden_sizes = [16]
minibatch_size = 16
epochs = 1
grad_penalty = 0.0
{buffer}
"""

BUFFER = """
[buffer]
capacity = 2
fit_steps = 2
"""

EXPERT = """
env = "point_maze"
total_steps = 128
seed = 0
eval_every = 2
eval_episodes = 2
checkpoint_every = 2

[env_options]
episode_length = 20

[ppo]
num_envs = 4
rollout_length = 8
num_epochs = 2
num_minibatches = 2
policy_hidden = [16]
value_hidden = [16]
"""


def trirl(*argv: str) -> None:
    """Run one trirl command in a fresh interpreter (as a user would); fail loudly."""
    done = subprocess.run([sys.executable, "-m", "trirl", *argv], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"trirl {' '.join(argv)} exited {done.returncode}:\n{done.stderr[-3000:]}")


def digest_run(path: Path, root: Path) -> dict[str, str]:
    """Digests of one run directory: metrics (numbers only, no clocks) and each checkpoint."""
    out = {}
    for metrics in sorted(path.rglob("metrics.jsonl")):
        h = hashlib.sha256()
        for line in metrics.read_text().splitlines():
            row = json.loads(line)
            kept = {k: v for k, v in row.items() if not any(w in k for w in TIME_WORDS)}
            h.update(json.dumps(kept, sort_keys=True).encode())
        out[str(metrics.relative_to(path))] = h.hexdigest()
    for ckpt in sorted(path.rglob("*.npz")):
        arrays, texts = hashlib.sha256(), hashlib.sha256()
        with np.load(ckpt, allow_pickle=False) as data:
            for key in sorted(k for k in data.files if not any(w in k for w in TIME_WORDS)):
                arr = np.ascontiguousarray(data[key])
                if key.startswith("__"):  # JSON text (config, meta): the run's folder is a fresh temporary one
                    text = arr.tobytes().decode().replace(str(root), "TMP").replace(str(REPO), "REPO")
                    texts.update(key.encode() + text.encode())
                else:
                    arrays.update(key.encode() + str(arr.dtype).encode() + str(arr.shape).encode() + arr.tobytes())
        out[str(ckpt.relative_to(path))] = arrays.hexdigest()
        out[f"{ckpt.relative_to(path)} (config text)"] = texts.hexdigest()
    return out


def numbers(value, path=""):
    """(key path, number) for every number of a JSON value, clocks and provenance left out."""
    if isinstance(value, dict):
        for key in sorted(value):
            if key not in ("machine", "commit", "date") and not any(w in key for w in TIME_WORDS):
                yield from numbers(value[key], f"{path}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from numbers(item, f"{path}/{i}")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, value


def digest_json(path: Path) -> dict[str, str]:
    """The digest of a result file's numbers (e.g. ``trirl evaluate``'s JSON)."""
    pairs = list(numbers(json.loads(path.read_text())))
    return {path.name: hashlib.sha256(json.dumps(pairs).encode()).hexdigest()}


def record_all(tmp: Path) -> dict[str, dict[str, str]]:
    runs: dict[str, dict[str, str]] = {}
    repo = REPO

    trirl("grid", "--world", "open_room", "--iterations", "15", "--out", str(tmp / "grid"), "--quiet")
    trirl("grid", "--world", "open_room", "--iterations", "15", "--safeguard", "off", "--out",
          str(tmp / "grid-fixed"), "--quiet")
    trirl("grid", "--world", "lava_corridor", "--demos", "50", "--horizon", "50", "--iterations", "10",
          "--out", str(tmp / "grid-demos"), "--quiet")
    for name in ("grid", "grid-fixed", "grid-demos"):
        runs[name] = digest_run(tmp / name, tmp)

    for algo in ("trirl", "trirl-tr-loss", "gail", "airl", "amp"):
        config = tmp / f"{algo}.toml"
        config.write_text(TRAIN.format(algo=algo, buffer=BUFFER if algo.startswith("trirl") else ""))
        trirl("train", "--config", str(config), "--out", str(tmp / f"train-{algo}"), "--no-progress")
        runs[f"train-{algo}"] = digest_run(tmp / f"train-{algo}", tmp)

    trirl("evaluate", "--run", str(tmp / "train-trirl"), "--steps", "32", "--out", str(tmp / "retrain.json"))
    runs["evaluate-retrain"] = digest_json(tmp / "retrain.json")

    expert = tmp / "expert.toml"
    expert.write_text(EXPERT)
    trirl("expert", "train", "--env", "point_maze", "--config", str(expert), "--out", str(tmp / "expert"))
    runs["expert-train"] = digest_run(tmp / "expert", tmp)

    study = repo / "tests" / "continuous" / "data" / "table1_tiny.toml"
    trirl("bench", "table1", "--study", str(study), "--runs", str(tmp / "table1-runs"),
          "--out", str(tmp / "table1-out"), "--no-progress")
    runs["bench-table1"] = digest_run(tmp / "table1-runs", tmp)
    return runs


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("record", "check"):
        print(__doc__)
        return 2
    mode, target = argv[0], Path(argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        runs = record_all(Path(tmp))
    if mode == "record":
        target.write_text(json.dumps(runs, indent=1, sort_keys=True) + "\n")
        print(f"recorded {sum(len(v) for v in runs.values())} digests of {len(runs)} runs in {target}")
        return 0
    before = json.loads(target.read_text())
    differ = sorted(name for name in set(before) | set(runs) if before.get(name) != runs.get(name))
    for name in differ:
        old, new = before.get(name, {}), runs.get(name, {})
        files = sorted(f for f in set(old) | set(new) if old.get(f) != new.get(f))
        print(f"DIFFERS {name}: {', '.join(files)}")
    print(f"{len(runs) - len(differ)} of {len(runs)} runs bit-identical")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
