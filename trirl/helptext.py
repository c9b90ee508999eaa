"""The continuous commands' ``--help``, readable without the continuous extra.

The flags of ``trirl train`` (and of ``trirl expert``, ``trirl bench continuous``, ...) come from
config dataclasses that live beside JAX code, so their parsers need JAX to be built. Without the
``[continuous]`` extra, ``trirl COMMAND --help`` prints the copy of the parser's text kept in
``trirl/help/`` (formatted at :data:`WIDTH` columns); running the command says what to install.

``python -m trirl.helptext`` rewrites the copies from the parsers (the extra installed);
tests/test_cli.py checks that every copy is what its parser prints.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path

#: the commands whose parsers need the continuous extra, as typed after ``trirl``
COMMANDS = (("train",), ("evaluate",), ("expert",), ("expert", "train"), ("expert", "evaluate"), ("expert", "collect"),
            ("demos",), ("demos", "import"), ("demos", "inspect"),
            ("bench", "continuous"), ("bench", "compile"), ("bench", "table1"), ("bench", "suite"))
#: the columns the copies are formatted at (argparse reads ``$COLUMNS``)
WIDTH = 100
HELP_DIR = Path(__file__).parent / "help"


def help_file(words: tuple[str, ...]) -> Path:
    """Where the copy of ``trirl WORDS --help`` is kept."""
    return HELP_DIR / f"{'_'.join(words)}.txt"


def saved_help(command: str, argv: list[str]) -> str | None:
    """The kept ``--help`` text of ``trirl COMMAND ARGV`` (the command and the subcommand words
    before the first flag), or ``None`` when none is kept."""
    words = [command]
    for word in argv:
        if word.startswith("-"):
            break
        words.append(word)
    for end in range(len(words), 0, -1):  # the longest kept prefix: `expert train --out x` -> expert_train
        if tuple(words[:end]) in COMMANDS and help_file(tuple(words[:end])).is_file():
            return help_file(tuple(words[:end])).read_text()
    return None


def live_help(words: tuple[str, ...]) -> str:
    """What ``trirl WORDS --help`` prints at :data:`WIDTH` columns (imports the command: needs its extra)."""
    from trirl.cli import main

    out, columns = io.StringIO(), os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(WIDTH)
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            main([*words, "--help"])
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    return out.getvalue()


def main() -> int:
    """Rewrite every copy from its parser."""
    HELP_DIR.mkdir(exist_ok=True)
    for words in COMMANDS:
        help_file(words).write_text(live_help(words))
        print(f"wrote {help_file(words)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
