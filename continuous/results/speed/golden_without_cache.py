"""The runs of ``.ci/golden_runs.py`` that hold a TRIRL buffer (``train-trirl``,
``train-trirl-tr-loss``, ``bench-table1``), digested as golden_runs digests them but with the
buffer's logit cache (``.buffer.fixed_logits``, ``.buffer.fixed_ready``, leaves added by the cache)
left out of every checkpoint, compared with the digests recorded before the cache:

    python continuous/results/speed/golden_without_cache.py GOLDEN.json

Equal digests show that the cache changed no number of these runs: only the leaves it adds differ.
"""
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / ".ci"))
import golden_runs as g  # noqa: E402

NEW_LEAVES = ".buffer.fixed_"

before = json.loads(Path(sys.argv[1]).read_text())
with tempfile.TemporaryDirectory() as tmp:
    tmp = Path(tmp)
    runs = {}
    for algo in ("trirl", "trirl-tr-loss"):
        config = tmp / f"{algo}.toml"
        config.write_text(g.TRAIN.format(algo=algo, buffer=g.BUFFER))
        g.trirl("train", "--config", str(config), "--out", str(tmp / f"train-{algo}"), "--no-progress")
    study = g.REPO / "tests" / "continuous" / "data" / "table1_tiny.toml"
    g.trirl("bench", "table1", "--study", str(study), "--runs", str(tmp / "table1-runs"),
            "--out", str(tmp / "table1-out"), "--no-progress")
    dropped = 0
    for ckpt in tmp.rglob("*.npz"):
        with np.load(ckpt, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files if NEW_LEAVES not in k}
            dropped += len(data.files) - len(arrays)
        np.savez(ckpt, **arrays)
    runs = {"train-trirl": g.digest_run(tmp / "train-trirl", tmp),
            "train-trirl-tr-loss": g.digest_run(tmp / "train-trirl-tr-loss", tmp),
            "bench-table1": g.digest_run(tmp / "table1-runs", tmp)}
same = [name for name in runs if runs[name] == before[name]]
print(f"cache leaves dropped: {dropped}; {len(same)} of {len(runs)} runs bit-identical without them: {same}")
for name in sorted(set(runs) - set(same)):
    print("DIFFERS", name, [f for f in runs[name] if runs[name][f] != before[name].get(f)])
sys.exit(0 if len(same) == len(runs) else 1)
