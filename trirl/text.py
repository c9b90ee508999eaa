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
#: a literal block's marker: ``text::`` reads ``text:``, a line of ``::`` alone is dropped
_BLOCK = re.compile(r"(?<=\S)::$|^[ \t]*::[ \t]*\n", re.M)


def plain(text: str) -> str:
    """``text`` (a docstring or a field's comment) without reST markup: ````literal```` becomes
    ``literal`` and ``:func:`~trirl.core.parse_eta_schedule``` becomes ``parse_eta_schedule``
    (``:role:`a.b``` keeps ``a.b``); a literal block's ``::`` marker becomes ``:`` (or goes, on a
    line of its own)."""
    def role(match: re.Match) -> str:
        name = match.group(1).strip()
        return name.rsplit(".", 1)[-1] if match.group(0).split("`", 1)[1].startswith("~") else name

    return _BLOCK.sub(lambda match: ":" if match.group(0) == "::" else "", _LITERAL.sub(r"\1", _ROLE.sub(role, text)))
