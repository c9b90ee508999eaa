"""Compare the metrics.jsonl of two record_metrics.py outputs, case by case, number by number:

    python compare_metrics.py BEFORE AFTER [--out metrics_check.json]

prints, per case, whether every logged number is bit-identical, else the differing ones and the
largest relative difference; --out writes the same as JSON."""
import argparse
import json
from pathlib import Path


def compare(before: Path, after: Path) -> dict:
    cases = {}
    for case in sorted(p.name for p in before.iterdir() if (p / "metrics.jsonl").exists()):
        rows_a = [json.loads(line) for line in open(before / case / "metrics.jsonl")]
        rows_b = [json.loads(line) for line in open(after / case / "metrics.jsonl")] \
            if (after / case / "metrics.jsonl").exists() else []
        differ, worst = [], 0.0
        for a, b in zip(rows_a, rows_b):
            for name, value in a.items():
                if not isinstance(value, (int, float)) or b.get(name) == value:
                    continue
                other = b.get(name)
                rel = abs(value - other) / max(abs(value), 1e-12) if isinstance(other, (int, float)) else float("inf")
                worst = max(worst, rel)
                differ.append({"iteration": a["iteration"], "metric": name, "before": value, "after": other})
        cases[case] = {"rows": [len(rows_a), len(rows_b)], "identical": not differ and len(rows_a) == len(rows_b),
                       "max_relative_difference": worst, "differences": differ}
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    cases = compare(args.before, args.after)
    for case, result in cases.items():
        verdict = "bit-identical" if result["identical"] else \
            f"{len(result['differences'])} numbers differ, largest relative difference {result['max_relative_difference']:.2e}"
        print(f"{case}: {verdict}")
    if args.out:
        args.out.write_text(json.dumps({"command": "python compare_metrics.py " + f"{args.before} {args.after}",
                                        "cases": cases}, indent=1))


if __name__ == "__main__":
    main()
