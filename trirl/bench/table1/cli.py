"""``trirl bench table1``: the command line of the Table 1 study (:mod:`trirl.bench.table1`)."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from trirl.bench.table1.aggregate import aggregate
from trirl.bench.table1.figures import format_table, write_outputs
from trirl.bench.table1.spec import load_study
from trirl.bench.table1.stages import StudyInterrupted, parse_shard, run_study, saved_results, shard_variants
from trirl.errors import InvalidConfigError, TrirlError
from trirl.provenance import machine, source_commit


def _describe(missing: dict[str, list[str]]) -> str:
    return "; ".join(f"{name}: {', '.join(stages)}" for name, stages in missing.items()) or "none"


def main(argv: list[str] | None = None) -> int:
    from trirl.continuous import compile_cache
    from trirl.continuous.train import NonFiniteError

    parser = argparse.ArgumentParser(prog="trirl bench table1", description=sys.modules[__package__].__doc__.split("\n")[0])
    parser.add_argument("--study", default="table1_point_maze",
                        help="study spec: a path or a shipped name (continuous/table1_point_maze.toml)")
    parser.add_argument("--runs", help="folder of the stages' run directories (default runs/NAME)")
    parser.add_argument("--out", help="folder of the JSON and figures (default continuous/results/NAME)")
    parser.add_argument("--only", help="comma-separated variants: run only their stages and write their table "
                                       "(processes sharing the work each get another --out; the JSON lists the rest "
                                       "as not_run)")
    parser.add_argument("--shard", metavar="K/N",
                        help="run only the K-th of N disjoint sets of stages (every N-th variant from the K-th, "
                             "with their retraining, transfer and the controls they own), for a job array; "
                             "then one --aggregate call builds the table")
    parser.add_argument("--aggregate", action="store_true",
                        help="run nothing: build the table from the stages that --runs holds (what the shards "
                             "wrote); variants with missing stages are listed, not scored")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    compile_cache.add_arguments(parser)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    given = [flag for flag, value in (("--only", args.only), ("--shard", args.shard), ("--aggregate", args.aggregate))
             if value]
    if len(given) > 1:
        parser.error(f"{' and '.join(given)} exclude each other: --only and --shard choose the stages a process "
                     f"runs, --aggregate runs none")
    compile_cache.from_args(args)
    command = shlex.join(["trirl", "bench", "table1", *argv])
    start, date = time.monotonic(), datetime.now(UTC).isoformat(timespec="seconds")
    missing: dict[str, list[str]] = {}
    try:
        shard = parse_shard(args.shard) if args.shard else None
        study = load_study(args.study)
        runs = Path(args.runs or Path("runs") / study.name)
        out = Path(args.out or Path("continuous") / "results" / study.name)
        if args.aggregate:
            results, missing = saved_results(study, runs)
            if not results:
                raise InvalidConfigError(f"--aggregate: {runs} holds no variant with every stage complete "
                                         f"(missing: {_describe(missing)}); run the shards first")
        elif shard:
            only = shard_variants(study, *shard)
            print(f"shard {shard[0]}/{shard[1]}: {', '.join(only) or 'no variant (more shards than variants)'}")
            if only:  # an empty `only` would mean every variant
                run_study(study, runs, progress=not args.no_progress, only=only)
            print(f"shard {shard[0]}/{shard[1]} done. When every shard is, build the table with:\n"
                  f"  {shlex.join(['trirl', 'bench', 'table1', '--study', args.study, '--runs', str(runs), '--aggregate'])}")
            return 0
        else:
            only = tuple(name.strip() for name in args.only.split(",") if name.strip()) if args.only else ()
            results = run_study(study, runs, progress=not args.no_progress, only=only)
        summary = aggregate(study, results, runs)
    except (StudyInterrupted, KeyboardInterrupt) as err:
        detail = f" ({err})" if str(err) else ""
        print(f"\ntrirl bench table1: interrupted{detail}; completed stages are kept, an interrupted training "
              f"resumes from its checkpoint and an interrupted retraining restarts.\ncontinue with: {command}",
              file=sys.stderr)
        return 130
    except (TrirlError, NonFiniteError, FloatingPointError) as err:
        print(f"trirl bench table1: error: {err}", file=sys.stderr)
        return 2
    if missing:
        print(f"trirl bench table1: not in the table, stages missing: {_describe(missing)}", file=sys.stderr)
    summary.update(missing_stages=missing, command=command, commit=source_commit(), date=date,
                   machine=machine(accelerator=True, command=False), runs=str(runs),
                   wall_clock_s=round(time.monotonic() - start, 1),
                   stage_wall_clock_s_total=round(sum(row.get("wall_clock_s") or 0 for entry in summary["variants"].values()
                                                      for row in entry["stages"].values()), 1))
    written = write_outputs(summary, runs, out)
    print(format_table(summary))
    print("wrote " + ", ".join(map(str, written)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
