import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trirl.bench", description="trirl benchmarks")
    parser.add_argument("suite", choices=["tabular"], help="which benchmark suite to run")
    args, rest = parser.parse_known_args(argv)
    from trirl.bench import tabular

    return tabular.main(rest)


if __name__ == "__main__":
    sys.exit(main())
