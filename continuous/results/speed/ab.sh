#!/bin/bash
# A/B: the tree before (/tmp/speed/base) and after (/work/wt/speed), back to back
cd /tmp/speed
for args in "authors 100 1 5" "trirl 100 1 7" "authors 100 0 5"; do
  for tree in /tmp/speed/base /work/wt/speed; do
    echo "== $tree $args $(date -u +%T)"
    (cd $tree && PYTHONPATH=$tree JAX_PLATFORMS=cpu nice -n 5 /work/wt/speed/.venv/bin/python /tmp/speed/ab.py $args)
  done
done
