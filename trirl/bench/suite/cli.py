"""``trirl bench suite``: the command line of the suite study (:mod:`trirl.bench.suite`)."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from trirl.bench.study import StudyInterrupted, StudyPaused, parse_shard
from trirl.bench.suite.aggregate import aggregate
from trirl.bench.suite.figures import format_table, write_outputs
from trirl.bench.suite.run import run_suite, select, stage_states
from trirl.bench.suite.spec import load_suite
from trirl.errors import TrirlError
from trirl.provenance import machine, source_commit

#: exit status when ``--max-minutes`` ran out with stages left (run the same command again)
PAUSED = 3


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of minutes > 0, e.g. --max-minutes 10, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    from trirl.continuous import compile_cache
    from trirl.continuous.train import NonFiniteError

    parser = argparse.ArgumentParser(prog="trirl bench suite", description=sys.modules[__package__].__doc__.split("\n")[0])
    parser.add_argument("spec", metavar="SPEC", help="suite spec: a path or a shipped name (continuous/suite_cpu.toml)")
    parser.add_argument("--runs", help="folder of the stages' run directories (default runs/NAME)")
    parser.add_argument("--out", help="folder of the JSON and figures (default continuous/results/NAME)")
    parser.add_argument("--only", help="comma-separated tasks, methods or task/method pairs: run only those stages "
                                       "(processes sharing --runs split the work; each writes the whole table)")
    parser.add_argument("--shard", metavar="K/N",
                        help="run every N-th of the (selected) stages from the K-th, for a job array sharing --runs "
                             "(Slurm: --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)")
    parser.add_argument("--max-minutes", type=_minutes, metavar="M",
                        help="stop after M minutes: the training under way checkpoints, the table is written, and the "
                             f"command exits with status {PAUSED}; run it again to continue")
    parser.add_argument("--aggregate", action="store_true", help="run nothing: build the table from what --runs holds")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    compile_cache.add_arguments(parser)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.aggregate and (args.only or args.max_minutes or args.shard):
        parser.error("--aggregate runs nothing: it excludes --only, --shard and --max-minutes")
    compile_cache.from_args(args)
    command = shlex.join(["trirl", "bench", "suite", *argv])
    start, date = time.monotonic(), datetime.now(UTC).isoformat(timespec="seconds")
    status = 0
    try:
        suite = load_suite(args.spec)
        runs = Path(args.runs or Path("runs") / suite.name)
        out = Path(args.out or Path("continuous") / "results" / suite.name)
        stages = select(suite, args.only)
        if args.shard:  # suite stages are independent: any split is disjoint and covers them
            k, n = parse_shard(args.shard)
            stages = stages[k - 1::n]
            print(f"shard {k}/{n}: {', '.join(stages) or 'no stage (more shards than stages)'}")
        if not args.aggregate:
            try:
                run_suite(suite, runs, stages, max_minutes=args.max_minutes, progress=not args.no_progress)
            except StudyPaused as err:
                print(f"trirl bench suite: paused ({err}); continue with: {command}", file=sys.stderr)
                status = PAUSED
        results, missing = stage_states(suite, runs)
        summary = aggregate(suite, results, missing, runs)
    except (StudyInterrupted, KeyboardInterrupt) as err:
        detail = f" ({err})" if str(err) else ""
        print(f"\ntrirl bench suite: interrupted{detail}; completed stages are kept and an interrupted training "
              f"resumes from its checkpoint.\ncontinue with: {command}", file=sys.stderr)
        return 130
    except (TrirlError, NonFiniteError, FloatingPointError) as err:
        print(f"trirl bench suite: error: {err}", file=sys.stderr)
        return 2
    summary.update(command=command, commit=source_commit(), date=date, machine=machine(accelerator=True, command=False),
                   runs=str(runs), wall_clock_s=round(time.monotonic() - start, 1))
    written = write_outputs(summary, out)
    print(format_table(summary))
    print("wrote " + ", ".join(map(str, written)))
    return status


if __name__ == "__main__":
    sys.exit(main())
