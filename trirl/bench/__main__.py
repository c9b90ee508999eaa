import argparse
import sys


def main(argv=None) -> int:
    suites = ("tabular", "demos", "continuous", "table1", "suite", "report", "compile", "scaling")
    parser = argparse.ArgumentParser(prog="trirl bench", description="trirl benchmarks (SUITE --help: its flags)")
    parser.add_argument("suite", choices=suites, help="which benchmark suite to run")
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in suites:
        parser.parse_args(argv[:1])  # --help, or an error naming the suites
    suite, rest = argv[0], argv[1:]
    if suite == "table1":  # the paper's Table 1 row of a study spec (continuous/table1_*.toml)
        from trirl.bench import table1 as bench
    elif suite == "suite":  # every method on every task of a suite spec (continuous/suite_*.toml)
        from trirl.bench import suite as bench
    elif suite == "scaling":  # the seed axis on 1, 2, 4 devices (trirl.bench.scaling)
        from trirl.bench import scaling as bench
    elif suite == "continuous":
        from trirl.bench import continuous as bench
    elif suite == "report":  # a folder of continuous runs as one results JSON and figure
        from trirl.bench import report as bench
    elif suite == "compile":  # compilation seconds with and without the persistent cache
        from trirl.bench import compile as bench
    elif suite == "demos":
        from trirl.bench import demos as bench
    else:
        from trirl.bench import tabular as bench

    return bench.main(rest)


if __name__ == "__main__":
    sys.exit(main())
