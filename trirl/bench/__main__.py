import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trirl.bench", description="trirl benchmarks")
    parser.add_argument("suite", choices=["tabular", "demos"], help="which benchmark suite to run")
    args, rest = parser.parse_known_args(argv)
    if args.suite == "demos":
        from trirl.bench import demos

        return demos.main(rest)
    from trirl.bench import tabular

    return tabular.main(rest)


if __name__ == "__main__":
    sys.exit(main())
