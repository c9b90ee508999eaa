#!/bin/bash
# Before/after of the logit cache, back to back: iteration_times.py in the tree before ($1) and after ($2).
#   git archive e201068 | tar -x -C /tmp/before && continuous/results/speed/ab_cache.sh /tmp/before "$PWD" "trirl 100 1 9" > log
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python}
for args in "${@:3}"; do
  for tree in "$1" "$2"; do
    echo "== $tree $args $(date -u +%T)"
    (cd "$tree" && PYTHONPATH="$tree" JAX_PLATFORMS=cpu nice -n 5 $PY "$HERE/iteration_times.py" $args)
  done
done
