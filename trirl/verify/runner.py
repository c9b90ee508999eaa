"""``trirl verify``: every property of :mod:`trirl.verify.properties` through hypothesis, as a table.

Usage: ``trirl verify [--continuous] [--thorough | --examples N] [--seed S] [--only NAME ...] [--jobs N]
[--json FILE [--resume]]`` (also ``python -m trirl.verify``). ``--continuous`` runs the soft LQ
properties instead (:mod:`trirl.verify.properties.lq`: the continuous closed forms against Monte
Carlo, Lemma 3.1, Theorem 3.2 and the monotone dual on random stable LQ instances). The default is the CI-like profile
(60 examples per property, derandomised); ``--thorough`` runs 10,000 per property. Exit status 1
if any property reports a violation above its tolerance; the shrunk counterexample is printed.

The thorough profile takes about an hour of CPU, so it does not lose work: ``--jobs N`` runs
properties in N processes, ``--json FILE`` is rewritten (atomically) after every property, and
``--resume`` keeps the rows already in FILE that were run with the same examples and seed and
runs only the rest.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import NamedTuple

import numpy as np

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from tqdm import tqdm

from trirl.argtypes import integer
from trirl.errors import InvalidConfigError
from trirl.provenance import machine
from trirl.rundir import write_json
from trirl.verify.properties import BY_NAME as TABULAR_BY_NAME
from trirl.verify.properties import PROPERTIES, Property
from trirl.verify.properties.lq import LQ_BY_NAME, LQ_PROPERTIES

BY_NAME = {**TABULAR_BY_NAME, **LQ_BY_NAME}  #: every property, tabular and continuous, by name

CI_EXAMPLES = 60
THOROUGH_EXAMPLES = 10_000


class Report(NamedTuple):
    """One row of the table."""

    name: str
    cases: int
    max_violation: float
    tolerance: float
    status: str  # "pass" or "FAIL"
    seconds: float
    counterexample: str | None


def run_property(prop: Property, max_examples: int, seed: int | None = None, shrink: bool = True,
                 on_example: Callable[[], None] | None = None) -> Report:
    """Draw up to ``max_examples`` examples, record the largest violation, shrink a failure;
    ``on_example()`` is called after each example (a progress display)."""
    seen = {"cases": 0, "max": 0.0, "failing": None}

    def body(example):
        seen["cases"] += 1
        if on_example is not None:
            on_example()
        v = prop.violation(example)
        seen["max"] = float("nan") if np.isnan(v) else max(seen["max"], v)  # a NaN stays in the table
        if not v <= prop.tolerance:  # NaN counts as a violation
            seen["failing"] = example
            raise AssertionError(f"{prop.name}: violation {v:.3e} > tolerance {prop.tolerance:.1e}")

    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if shrink else [])
    test = settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=seed is None,
        phases=phases,
        suppress_health_check=list(HealthCheck),
    )(given(prop.strategy())(body))
    if seed is not None:
        test = hypothesis_seed(seed)(test)
    tick = time.perf_counter()
    status, counterexample = "pass", None
    try:
        test()
    except AssertionError:
        status = "FAIL"
        counterexample = _describe(seen["failing"])
    except Exception as err:  # an engine error on a valid example is a failure too
        status, counterexample = "FAIL", f"{type(err).__name__}: {err} on {_describe(seen['failing'])}"
    return Report(prop.name, seen["cases"], seen["max"], prop.tolerance, status, time.perf_counter() - tick, counterexample)


def _describe(example) -> str:
    if example is None:
        return "?"
    parts = []
    for item in example:
        spec = getattr(item, "spec", None)
        if spec is not None:  # an IRLCase: everything needed to rebuild it, arrays included
            expert_reward = None if item.expert_reward is None else np.asarray(item.expert_reward).tolist()
            parts.append(
                f"IRLCase({spec}, eps={item.eps!r}, beta={item.beta!r}, eta={item.eta!r}, "
                f"expert_reward={expert_reward}, reward={np.asarray(item.reward).tolist()}, "
                f"min_rho_expert={float(np.min(item.rho_expert)):.3g})"
            )
        else:
            parts.append(repr(item))
    return ", ".join(parts)


def format_table(reports: list[Report]) -> str:
    lines = [f"{'property':<24} {'cases':>7} {'max violation':>14} {'tolerance':>10} {'status':>6} {'time':>8}"]
    for r in reports:
        lines.append(
            f"{r.name:<24} {r.cases:>7} {r.max_violation:>14.3e} {r.tolerance:>10.1e} {r.status:>6} {r.seconds:>7.1f}s"
        )
    for r in reports:
        if r.counterexample:
            lines.append(f"\n{r.name} counterexample: {r.counterexample}")
    return "\n".join(lines)


def _run_by_name(name: str, max_examples: int, seed: int | None, shrink: bool, on_example=None) -> Report:
    """:func:`run_property` by property name (what a worker process receives)."""
    return run_property(BY_NAME[name], max_examples, seed, shrink, on_example)


def _resumed_rows(path: Path, n: int, seed: int | None) -> dict[str, Report]:
    """The rows of an earlier ``--json`` file run with the same examples and seed."""
    if not path.exists():
        return {}
    try:
        payload = json.loads(path.read_text())
        rows = payload["properties"]
        same = payload["examples_per_property"] == n and payload["seed"] == seed
    except (ValueError, KeyError, TypeError) as err:
        raise InvalidConfigError(f"--resume: {path} is not a table written by trirl verify --json ({err})") from err
    if not same:
        raise InvalidConfigError(
            f"--resume: {path} was run with examples_per_property={payload['examples_per_property']}, "
            f"seed={payload['seed']}; this command asks for {n}, {seed}. Use the same settings or another file."
        )
    return {row["name"]: Report(**{**row, "max_violation": float(row["max_violation"])}) for row in rows}


def _row(report: Report) -> dict:
    """A JSON row; a non-finite violation is written as the string "inf" or "nan" (JSON has neither)."""
    row = report._asdict()
    if not np.isfinite(report.max_violation):
        row["max_violation"] = str(report.max_violation)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="trirl verify", description="Check every property of the exact engine and the TRIRL theory with hypothesis.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--thorough", action="store_true", help=f"{THOROUGH_EXAMPLES} examples per property")
    group.add_argument("--examples", type=integer(1), default=None, help=f"examples per property (default {CI_EXAMPLES})")
    parser.add_argument("--seed", type=integer(), default=None, help="hypothesis seed (default: derandomised)")
    parser.add_argument("--continuous", action="store_true",
                        help="the soft LQ properties of the continuous closed forms instead of the tabular ones")
    parser.add_argument("--only", nargs="+", default=None, choices=sorted(BY_NAME), metavar="NAME", help="properties to run")
    parser.add_argument("--no-shrink", action="store_true", help="report the first failure without shrinking it")
    parser.add_argument("--jobs", type=integer(1), default=1, help="properties run at once, one process each (default 1)")
    parser.add_argument("--json", default=None, metavar="FILE", help="write the table as JSON, after every property")
    parser.add_argument("--resume", action="store_true", help="keep the rows of --json FILE run with the same settings; run the rest")
    parser.add_argument("--quiet", action="store_true", help="no progress bar (shown on terminals only)")
    args = parser.parse_args(argv)
    if args.resume and not args.json:
        parser.error("--resume needs --json FILE: the table to resume from")
    n = THOROUGH_EXAMPLES if args.thorough else (args.examples or CI_EXAMPLES)
    selected = [BY_NAME[name] for name in args.only] if args.only else list(LQ_PROPERTIES if args.continuous else PROPERTIES)
    try:
        done = _resumed_rows(Path(args.json), n, args.seed) if args.resume else {}
    except InvalidConfigError as err:
        parser.error(str(err))
    done = {name: row for name, row in done.items() if name in BY_NAME and BY_NAME[name] in selected}
    command = "trirl verify " + " ".join(argv if argv is not None else sys.argv[1:])

    # examples of every selected property; the rows resumed from --json count as done
    bar = tqdm(total=n * len(selected), initial=n * len(done), unit="example", file=sys.stderr,
               disable=True if args.quiet else None, dynamic_ncols=True, desc="trirl verify")
    counted: dict[str, int] = {}

    def count(name: str) -> Callable[[], None]:
        def on_example() -> None:  # shrinking re-runs examples: count at most n per property
            if counted.get(name, 0) < n:
                counted[name] = counted.get(name, 0) + 1
                bar.update(1)
        return on_example

    def record(report: Report) -> None:
        done[report.name] = report
        bar.update(n - counted.get(report.name, 0))
        counted[report.name] = n
        bar.write(f"{report.name:<24} {report.cases:>7} {report.max_violation:>14.3e} {report.status}", file=sys.stderr)
        if args.json:
            rows = [_row(done[p.name]) for p in selected if p.name in done]
            write_json(Path(args.json), {
                "command": command,
                "examples_per_property": n,
                "seed": args.seed,
                "machine": machine(command=False),
                "complete": len(rows) == len(selected),
                "properties": rows,
            })

    todo = [p.name for p in selected if p.name not in done]
    if done:
        print(f"resuming {args.json}: {len(done)} properties already run, {len(todo)} to go", file=sys.stderr)
    shrink = not args.no_shrink
    if args.jobs == 1 or len(todo) <= 1:
        for name in todo:
            bar.set_description(name)
            record(_run_by_name(name, n, args.seed, shrink, count(name)))
    else:
        # spawn, not fork: a forked child of a process that has started threads (JAX, BLAS) can deadlock
        with ProcessPoolExecutor(max_workers=min(args.jobs, len(todo)), mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_run_by_name, name, n, args.seed, shrink) for name in todo]
            for future in as_completed(futures):
                record(future.result())
    bar.close()
    reports = [done[p.name] for p in selected]
    print(format_table(reports))
    return 1 if any(r.status != "pass" for r in reports) else 0
