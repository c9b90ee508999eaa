#!/bin/bash
# Before/after, back to back: iteration_times.py in the trirl tree BEFORE and in AFTER, for each setting.
#   git archive COMMIT | tar -x -C /tmp/before && continuous/results/speed/ab.sh /tmp/before "$PWD" > ab.log
HERE=$(cd "$(dirname "$0")" && pwd)
for args in "authors 100 1 5" "trirl 100 1 7" "authors 100 0 5"; do
  for tree in "$1" "$2"; do
    echo "== $tree $args $(date -u +%T)"
    (cd "$tree" && PYTHONPATH="$tree" JAX_PLATFORMS=cpu nice -n 5 python "$HERE/iteration_times.py" $args)
  done
done
