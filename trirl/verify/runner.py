"""``trirl verify``: every property of :mod:`trirl.verify.properties` through hypothesis, as a table.

Usage: ``trirl verify [--thorough | --examples N] [--seed S] [--only NAME ...] [--json FILE]``
(also ``python -m trirl.verify``). The default is the CI-like profile (60 examples per
property, derandomised); ``--thorough`` runs 10,000 per property. Exit status 1 if any
property reports a violation above its tolerance; the shrunk counterexample is printed.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from typing import NamedTuple

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from trirl.verify.properties import BY_NAME, PROPERTIES, Property

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


def run_property(prop: Property, max_examples: int, seed: int | None = None, shrink: bool = True) -> Report:
    """Draw up to ``max_examples`` examples, record the largest violation, shrink a failure."""
    seen = {"cases": 0, "max": 0.0, "failing": None}

    def body(example):
        seen["cases"] += 1
        v = prop.violation(example)
        seen["max"] = max(seen["max"], v)
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
        if spec is not None:  # an IRLCase
            parts.append(f"IRLCase({spec}, eps={item.eps!r}, beta={item.beta!r}, eta={item.eta!r})")
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="trirl verify", description="Check every property of the exact engine and the TRIRL theory with hypothesis.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--thorough", action="store_true", help=f"{THOROUGH_EXAMPLES} examples per property")
    group.add_argument("--examples", type=int, default=None, help=f"examples per property (default {CI_EXAMPLES})")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: derandomised)")
    parser.add_argument("--only", nargs="+", default=None, choices=sorted(BY_NAME), metavar="NAME", help="properties to run")
    parser.add_argument("--no-shrink", action="store_true", help="report the first failure without shrinking it")
    parser.add_argument("--json", default=None, metavar="FILE", help="write the table as JSON")
    args = parser.parse_args(argv)
    n = THOROUGH_EXAMPLES if args.thorough else (args.examples or CI_EXAMPLES)
    selected = [BY_NAME[name] for name in args.only] if args.only else list(PROPERTIES)
    reports = []
    for prop in selected:
        report = run_property(prop, n, args.seed, shrink=not args.no_shrink)
        reports.append(report)
        print(f"{report.name:<24} {report.cases:>7} {report.max_violation:>14.3e} {report.status}", file=sys.stderr, flush=True)
    print(format_table(reports))
    if args.json:
        payload = {
            "command": "trirl verify " + " ".join(argv if argv is not None else sys.argv[1:]),
            "examples_per_property": n,
            "seed": args.seed,
            "machine": f"{platform.platform()} / {platform.processor() or platform.machine()} / python {platform.python_version()}",
            "properties": [r._asdict() for r in reports],
        }
        with open(args.json, "w") as fh:
            json.dump(payload, fh, indent=1)
    return 1 if any(r.status != "pass" for r in reports) else 0
