"""Warnings in notebooks and the book as short notes: what happened and what to do.

The library's warnings (:class:`~trirl.errors.DualIncreaseWarning`, ``DemonstrationWarning``, ...)
are written for logs: ``what happened. Cause: ... Remedy: ...``. Python prints them to stderr
with the file and line that raised them, which a notebook shows as a long red box with the
installation's paths. :func:`warnings_as_notes` shows each one instead as a short note: the first
part (what happened, without parenthesised asides) and the remedy (what to do); never a path.
The cause, written for the general case, is left to the warning itself (``warnings.catch_warnings``
records it whole).
"""

from __future__ import annotations

import html
import sys
import warnings

_ORIGINAL_SHOWWARNING = warnings.showwarning


def _drop_asides(text: str) -> str:
    """``text`` without its parenthesised asides: a ``(`` after a space opens one (nested parentheses
    included); a ``(`` right after a word is notation, ``G(r)``, and stays."""
    kept, depth = [], 0
    for i, char in enumerate(text):
        if char == "(" and (depth or i == 0 or text[i - 1].isspace()):
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif depth == 0:
            kept.append(char)
    return " ".join("".join(kept).split()).replace(" .", ".").replace(" ,", ",").replace(" :", ":")


def short_note(message: str) -> tuple[str, str, str]:
    """Split a library warning into ``(what happened, why, what to do)``.

    ``what happened`` is the text before ``Cause:`` (or ``Remedy:``) without parenthesised
    asides; ``why`` the cause ("" if none); ``what to do`` the remedy ("" if none).
    """
    head, _, remedy = str(message).partition("Remedy:")
    what, _, cause = head.partition("Cause:")
    return _drop_asides(what).strip(), cause.strip(), remedy.strip()


def note_html(category: type[Warning], message: str) -> str:
    """The note for one warning as HTML (a Sphinx ``admonition note`` box in the book)."""
    what, _, remedy = (html.escape(part) for part in short_note(message))
    parts = [f"<p><b>Note</b> ({category.__name__}): {what}</p>"]
    if remedy:
        parts.append(f"<p><b>What to do:</b> {remedy}</p>")
    return ("<div class='admonition note' style='border-left: 4px solid #4a86c5; padding: 2px 10px; "
            "margin: 4px 0; background: #f3f7fb'>" + "".join(parts) + "</div>")


def note_text(category: type[Warning], message: str) -> str:
    """The note for one warning as plain text."""
    what, _, remedy = short_note(message)
    return f"Note ({category.__name__}): {what}" + (f" What to do: {remedy}" if remedy else "")


def _show_note(message, category, filename, lineno, file=None, line=None) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # plain Python: a one-line note on stderr, still without the path
        get_ipython = None
    if get_ipython is None or get_ipython() is None:
        print(note_text(category, str(message)), file=file or sys.stderr)
        return
    display({"text/html": note_html(category, str(message)), "text/plain": note_text(category, str(message))},
            raw=True)


def warnings_as_notes(enable: bool = True) -> None:
    """Show every warning from now on as a short note (module doc); ``enable=False`` restores
    Python's own display. Call it once at the top of a notebook or a book chapter."""
    warnings.showwarning = _show_note if enable else _ORIGINAL_SHOWWARNING
