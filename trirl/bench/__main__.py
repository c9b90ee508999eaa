import argparse
import sys


def main(argv=None) -> int:
    suites = ("tabular", "demos", "continuous")
    parser = argparse.ArgumentParser(prog="trirl bench", description="trirl benchmarks (SUITE --help: its flags)")
    parser.add_argument("suite", choices=suites, help="which benchmark suite to run")
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in suites:
        parser.parse_args(argv[:1])  # --help, or an error naming the suites
    suite, rest = argv[0], argv[1:]
    if suite == "continuous":
        from trirl.continuous import bench
    elif suite == "demos":
        from trirl.bench import demos as bench
    else:
        from trirl.bench import tabular as bench

    return bench.main(rest)


if __name__ == "__main__":
    sys.exit(main())
