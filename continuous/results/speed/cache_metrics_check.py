"""TRIRL on the point maze (continuous/trirl_point_maze.toml, its expert's 3,001 fixed inputs) with
the buffer's logit cache and without it (``reward.fixed_cache_size`` forced to 0: the k networks
run afresh), same keys; the largest absolute and relative difference of every metric (a NaN in both counts as equal):

    JAX_PLATFORMS=cpu python continuous/results/speed/cache_metrics_check.py OUT.json

Cases: k = 100 (filling) and k = 3 (wrapped after 3 iterations: the chain starts at R_fit).
"""
import json
import sys

import jax
import numpy as np

from trirl.configfile import CONFIG_DIR
from trirl.continuous import envs, reward, train
from trirl.provenance import machine

cases = []
for capacity, iterations in ((100, 3), (3, 6)):
    config = train.load_config(CONFIG_DIR / "trirl_point_maze.toml", buffer={"capacity": capacity})
    env = envs.make(config.env, config.env_options)
    demos = train.prepare(config, None, env)[0]
    rows = {}
    for cached in (True, False):
        size = reward.fixed_cache_size
        if not cached:
            reward.fixed_cache_size = lambda *args: 0
        learner = train.build(config, demos, env)
        reward.fixed_cache_size = size
        state, step = learner.init(jax.random.PRNGKey(0)), jax.jit(learner.step)
        assert (state.buffer.fixed_logits.shape[1] > 0) == cached
        rows[cached] = []
        for i in range(iterations):
            state, metrics = step(state, jax.random.PRNGKey(i))
            rows[cached].append({k: float(v) for k, v in metrics.items()})
    diffs = {}
    for name in rows[True][0]:
        got, expected = np.array([r[name] for r in rows[True]]), np.array([r[name] for r in rows[False]])
        same_nan = np.isnan(got) & np.isnan(expected)  # e.g. episode_return before an episode ends
        absolute = np.where(same_nan, 0.0, np.abs(got - expected))
        diffs[name] = {"max_abs": float(absolute.max()), "nan_in_both": int(same_nan.sum()),
                       "max_rel": float(np.max(absolute / np.maximum(np.abs(expected), 1e-30)))}
    identical = all(d["max_abs"] == 0 for d in diffs.values())
    cases.append({"capacity": capacity, "iterations": iterations, "bit_identical": identical, "differences": diffs})
    print(f"k = {capacity}, {iterations} iterations: bit-identical {identical}; largest relative difference "
          f"{max(d['max_rel'] for d in diffs.values()):.3g}", flush=True)
with open(sys.argv[1], "w") as f:
    json.dump({"command": "JAX_PLATFORMS=cpu python continuous/results/speed/cache_metrics_check.py " + sys.argv[1],
               "machine": machine(accelerator=True, command=False), "cases": cases}, f, indent=1)
    f.write("\n")
