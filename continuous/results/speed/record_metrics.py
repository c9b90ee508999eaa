"""Record metrics.jsonl of tiny runs (2 seeds, 4 iterations, k = 2) of every continuous learner into OUT/<case>/,
for a before/after comparison of the numbers (compare_metrics.py). Run from the tree to record:

    cd TREE && JAX_PLATFORMS=cpu PYTHONPATH=TREE python record_metrics.py OUT [CASE ...]
"""
import sys, shutil
from pathlib import Path
from trirl.continuous import train

out = Path(sys.argv[1])
only = sys.argv[2:]
CASES = {
    "trirl-network": dict(algo="trirl", acting_policy="network"),
    "trirl-line-search": dict(algo="trirl", acting_policy="line-search"),
    "trirl-projected": dict(algo="trirl", acting_policy="projected"),
    "trirl-tr-loss": dict(algo="trirl-tr-loss"),
    "gail": dict(algo="gail"),
    "airl": dict(algo="airl"),
}
for name, extra in CASES.items():
    if only and name not in only:
        continue
    buf = {"buffer": {"capacity": 2}} if extra["algo"].startswith("trirl") else {}
    config = train.load_config(None, env="point_maze", total_steps=4 * 32, eval_every=2, eval_episodes=2,
        checkpoint_every=2, seeds=2,
        env_options={"episode_length": 10},
        ppo={"num_envs": 4, "rollout_length": 8, "num_epochs": 2, "num_minibatches": 2, "policy_hidden": [8], "value_hidden": [8]},
        discriminator={"hidden_sizes": [8], "epochs": 2, "minibatch_size": 16}, **extra, **buf)
    shutil.rmtree(out / name, ignore_errors=True)
    train.train(config, out / name, progress=False)
    print(name, "done", flush=True)
