"""The seed axis on a device mesh (:func:`trirl.driver.seed_mesh`): a run's seeds split over the
local devices give the numbers of one device, and a run resumes on another device count.

Several CPU devices need ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` before JAX starts,
so each device count runs in its own process."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("jax")

pytestmark = pytest.mark.continuous

CONFIG = Path(__file__).parent / "data" / "table1_tiny_train.toml"
# A seed computed in a batch of one (two devices) or two (one device) differs by XLA's float32
# rounding for another batch size: measured up to 2e-5 relative on a loss near 0, 7e-8 elsewhere.
RTOL, ATOL = 1e-4, 1e-6

TRAIN = textwrap.dedent("""
    import json, sys
    import jax
    from trirl import driver
    from trirl.continuous import compile_cache, train
    from pathlib import Path
    compile_cache.configure()  # the session's cache: the paused run loads what the first compiled
    out, seeds, pause = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "pause"
    config = train.load_config(sys.argv[4], seeds=seeds)
    summary = train.train(config, out, resume=(out / "config.json").exists(), progress=False,
                          max_minutes=1e-9 if pause else None)
    mesh = driver.seed_mesh(seeds)
    print(json.dumps({"devices": len(jax.devices()), "mesh": 0 if mesh is None else mesh.size,
                      "status": summary["status"], "iterations": summary["iterations"], "used": summary["devices"]}))
""")


def _train(out: Path, devices: int, seeds: int = 2, pause: bool = False) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    if devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    done = subprocess.run([sys.executable, "-c", TRAIN, str(out), str(seeds), "pause" if pause else "run", str(CONFIG)],
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _numbers(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if "time" not in k and isinstance(v, (int, float, list))} for row in rows]


@pytest.mark.slow  # three tiny trainings in fresh processes
def test_seeds_split_over_two_devices_match_one_device_and_a_run_resumes_on_another_count(tmp_path):
    one = _train(tmp_path / "one", devices=1)
    assert one == {"devices": 1, "mesh": 0, "status": "done", "iterations": 4, "used": 1}

    # paused after its first iteration on one device, resumed on two: each device holds one seed
    paused = _train(tmp_path / "moved", devices=1, pause=True)
    assert paused["status"] == "paused" and paused["iterations"] == 1
    resumed = _train(tmp_path / "moved", devices=2)
    assert resumed == {"devices": 2, "mesh": 2, "status": "done", "iterations": 4, "used": 2}

    expected, got = _numbers(tmp_path / "one"), _numbers(tmp_path / "moved")
    assert [row["iteration"] for row in got] == [row["iteration"] for row in expected] == [1, 2, 3, 4]
    assert expected[0] == got[0]  # the iteration before the move: one device both times
    for want, have in zip(expected[1:], got[1:]):
        assert set(want) == set(have)
        for key in want:
            np.testing.assert_allclose(np.asarray(have[key], float), np.asarray(want[key], float), rtol=RTOL,
                                       atol=ATOL, err_msg=f"iteration {want['iteration']}: {key}")

    # the two-device checkpoint holds both seeds gathered to the host, as a one-device one does
    with np.load(sorted((tmp_path / "moved" / "checkpoints").glob("step_*.npz"))[-1]) as moved, \
            np.load(sorted((tmp_path / "one" / "checkpoints").glob("step_*.npz"))[-1]) as still:
        assert moved.files == still.files
        assert all(moved[name].shape == still[name].shape for name in moved.files)


def test_the_mesh_spans_the_largest_device_count_that_divides_the_seeds():
    import jax

    from trirl.driver import seed_mesh

    device = jax.devices()[0]
    assert seed_mesh(4, [device]) is None  # one device: nothing to shard
    assert seed_mesh(1) is None
