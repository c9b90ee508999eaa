"""The log of ab.sh-style back-to-back runs (``== TREE ARGS TIME`` then iteration_times.py's JSON line)
as one JSON with the machine, the command and the TRIRL / GAIL ratios of each run:

    python ab_json.py LOG OUT.json "COMMAND" BEFORE_TREE=LABEL ...
"""
import json
import sys

from trirl.provenance import machine

log, out, command, *labels = sys.argv[1:]
labels = dict(label.split("=", 1) for label in labels)
runs, tree = [], None
for line in open(log):
    if line.startswith("== "):
        tree = labels.get(line.split()[1], line.split()[1])
    elif line.startswith("{"):
        run = json.loads(line)
        run["tree"] = tree
        run["trirl_over_gail_cpu"] = run["cpu_s"]["trirl"] / run["cpu_s"]["gail"]
        run["trirl_over_gail_wall"] = run["wall_s"]["trirl"] / run["wall_s"]["gail"]
        runs.append(run)
with open(out, "w") as f:
    json.dump({"command": command, "machine": machine(accelerator=True, command=False),
               "what": "median seconds per full iteration (one seed vmapped, as trirl train runs it) on the point "
                       "maze, trirl_point_maze.toml settings; full: all k slots hold a pair, else two (a filling "
                       "buffer); cpu_s counts all threads of the process; the trees run back to back",
               "runs": runs}, f, indent=1)
    f.write("\n")
for run in runs:
    print(f"{run['tree']:>40} {run['sizes']:>8} k={run['k']} full={run['full']}: TRIRL/GAIL per CPU s "
          f"{run['trirl_over_gail_cpu']:.2f}, per wall s {run['trirl_over_gail_wall']:.2f}")
