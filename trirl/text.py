"""Words for the terminal: counts with their plural (:func:`plural`) and docstring text with its
reST markup taken out (:func:`plain`), for ``--help`` texts, summaries and figure labels."""

from __future__ import annotations

import re


def plural(count: int | float, word: str, words: str | None = None) -> str:
    """``"1 seed"``, ``"3 seeds"``, ``"0 seeds"``: the count and the word, plural unless the count
    is 1 (``words``: an irregular plural, default ``word + "s"``)."""
    return f"{count} {word if count == 1 else words or word + 's'}"


#: ``:func:`name```, ``:class:`~a.b.C```, ... -> the name (its last part after ``~``)
_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?([^`<]*?)(?:\s*<[^>]*>)?`")
_LITERAL = re.compile(r"``([^`]+)``")


def plain(text: str) -> str:
    """``text`` (a docstring or a field's comment) without reST markup: ````literal```` becomes
    ``literal`` and ``:func:`~trirl.core.parse_eta_schedule``` becomes ``parse_eta_schedule``
    (``:role:`a.b``` keeps ``a.b``)."""
    def role(match: re.Match) -> str:
        name = match.group(1).strip()
        return name.rsplit(".", 1)[-1] if match.group(0).split("`", 1)[1].startswith("~") else name

    return _LITERAL.sub(r"\1", _ROLE.sub(role, text))
