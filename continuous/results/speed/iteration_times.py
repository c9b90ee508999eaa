"""Seconds per full TRIRL / GAIL / PPO iteration (one seed vmapped, as ``trirl train`` runs it) of the
trirl tree on PYTHONPATH, on the point maze with continuous/trirl_point_maze.toml's settings; prints
one JSON line (medians over REPEATS rounds, the three learners timed in turn in each round):

    cd TREE && JAX_PLATFORMS=cpu PYTHONPATH=TREE python iteration_times.py SIZES K FULL REPEATS

SIZES: trirl (the TOML's networks) or authors (512-256-128 policy and critic, 512-256
discriminator); K buffered discriminators; FULL 1: all K slots hold a pair, 0: two do (the
buffer after two iterations, as while it fills). ab.sh runs it for the trees before and after.
"""
import dataclasses, json, sys, time, os
import jax, jax.numpy as jnp, numpy as np
from trirl import driver
from trirl.configfile import CONFIG_DIR
from trirl.continuous import envs, train, trirl, baselines
from trirl.continuous.ppo import make_ppo
from trirl.bench.profile_trirl import synthetic_demos

sizes, k, full, repeats = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
SIZES = {"trirl": {}, "authors": {"ppo": {"policy_hidden": [512, 256, 128], "value_hidden": [512, 256, 128]},
                                  "discriminator": {"hidden_sizes": [512, 256]}}}
config = train.load_config(CONFIG_DIR / "trirl_point_maze.toml", buffer={"capacity": k}, **SIZES[sizes])
env = envs.make("point_maze", config.env_options)
demos = synthetic_demos(env)
learners = {"trirl": trirl.make_trirl(env, config.learner_config(), demos),
            "gail": baselines.make_baseline(env, baselines.BaselineConfig(algo="gail", ppo=config.ppo,
                    discriminator=dataclasses.replace(config.discriminator, input_mode="state_action")), demos),
            "ppo": make_ppo(env, config.ppo)}
key = jax.random.PRNGKey(0)
states, steps = {}, {}
t0 = time.perf_counter()
for name, learner in learners.items():
    j = driver.jitted(learner, 1)
    s = j.init(key[None])
    for i in range(2):
        s, _ = j.step(s, jax.random.fold_in(key, i))
    states[name], steps[name] = s, j.step
compile_s = time.perf_counter() - t0
if full:
    b = states["trirl"].buffer
    states["trirl"] = states["trirl"]._replace(buffer=b._replace(count=jnp.full((1,), k, jnp.int32), pushes=jnp.full((1,), k + 1, jnp.int32)))
wall = {n: [] for n in learners}; cpu = {n: [] for n in learners}
for r in range(repeats):
    for n in learners:
        t, c = time.perf_counter(), time.process_time()
        jax.block_until_ready(steps[n](states[n], jax.random.fold_in(key, 100 + r)))
        wall[n].append(time.perf_counter() - t); cpu[n].append(time.process_time() - c)
print(json.dumps({"sizes": sizes, "k": k, "full": full, "compile_s": compile_s,
                  "wall_s": {n: float(np.median(v)) for n, v in wall.items()},
                  "cpu_s": {n: float(np.median(v)) for n, v in cpu.items()}, "load": os.getloadavg()[0]}))
