"""The text as spoken, for ``normalizedAlignment``.

:func:`spoken_form` maps a generation's source text to the words an engine
says, as ``(source_start, source_end, spoken)`` spans that cover the source in
order: whitespace runs become one space (none at the start: the server adds
the generation's leading space), and, unless normalization is ``"off"``,
numbers, ordinals, decimals, currency, percentages, clock times and common
abbreviations are written out ("2" → "two", "Dr." → "Doctor"). Numbers are
spelled by ``num2words``.

:func:`normalized_alignment` then spreads each span's source timing over its
spoken characters, giving the ``normalizedAlignment`` arrays.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

from num2words import num2words  # type: ignore[import-untyped]

__all__ = ["NORMALIZATION_MODES", "Span", "normalized_alignment", "number_words", "spoken_form", "spoken_text"]

NORMALIZATION_MODES = ("auto", "on", "off")
Span = tuple[int, int, str]  # (source_start, source_end, spoken)

_CURRENCIES = {"$": ("dollar", "dollars", "cent", "cents"), "€": ("euro", "euros", "cent", "cents"),
               "£": ("pound", "pounds", "penny", "pence"), "¥": ("yen", "yen", "sen", "sen")}
_ABBREVIATIONS = {"Dr.": "Doctor", "Mr.": "Mister", "Mrs.": "Missus", "Ms.": "Miz", "Prof.": "Professor",
                  "Jr.": "Junior", "Sr.": "Senior", "Mt.": "Mount", "vs.": "versus", "etc.": "et cetera",
                  "e.g.": "for example", "i.e.": "that is", "approx.": "approximately", "&": "and"}
_NUMBER = r"\d{1,3}(?:,\d{3})+|\d+"
_TOKEN = re.compile(
    # the lookahead lets the regex engine pass over most characters with one test
    r"(?=[\s\d$€£¥&\-−DMPJSNveia])(?:"
    r"(?P<space>\s{2,}|[^\S ])"  # a single " " is already what is spoken
    r"|(?P<time>(?<![\w:.])(?P<hour>[01]?\d|2[0-3]):(?P<minute>[0-5]\d)(?![\w:])"
    r"(?:\s?(?P<ampm>[AaPp])\.?[Mm]\b)?)"
    rf"|(?P<money>(?P<currency>[$€£¥])(?P<units>{_NUMBER})(?:\.(?P<cents>\d\d))?(?![\w.,]\d))"
    rf"|(?P<ordinal>(?<![\w.])(?P<nth>{_NUMBER})(?:st|nd|rd|th)\b)"
    rf"|(?P<number>(?<![\w.])(?P<sign>[-−])?(?P<whole>{_NUMBER})(?:\.(?P<fraction>\d+))?(?P<percent>\s?%)?"
    r"(?![\w]|[.,]\d))"
    r"|(?P<saint>\bSt\.(?=\s+[A-Z]))|(?P<street>\bSt\.)|(?P<no>\bNo\.(?=\s*\d))"
    r"|(?P<abbr>(?<!\w)(?:" + "|".join(re.escape(a) for a in sorted(_ABBREVIATIONS, key=len, reverse=True))
    + r")(?![\w])))"
)
_SPACES_ONLY = re.compile(r"\s{2,}|[^\S ]")
_MAX_DIGITS = 15  # longer digit strings are read digit by digit


def number_words(digits: str, lang: str = "en") -> str:
    """``"1,234"`` → ``"one thousand two hundred and thirty-four"``; long strings digit by digit."""
    plain = digits.replace(",", "")
    if len(plain) > _MAX_DIGITS:
        return " ".join(_words(int(d), lang) for d in plain)
    return _words(int(plain), lang)


@functools.lru_cache(maxsize=4096)
def _words(value: float, lang: str, to: str = "cardinal") -> str:
    """num2words, cached (a call costs about 0.1 ms), without its commas."""
    kwargs = {} if to == "cardinal" else {"to": to}
    try:
        spoken = num2words(value, lang=lang, **kwargs)
    except (NotImplementedError, OverflowError, ValueError):
        spoken = num2words(value, lang="en", **kwargs)
    return str(spoken).replace(",", "")


def _expand(m: re.Match[str], lang: str) -> str:
    kind = m.lastgroup
    if kind == "time":
        hour, minute = int(m["hour"]), int(m["minute"])
        tail = {0: " o'clock" if not m["ampm"] else ""}.get(minute, "")
        spoken = _words(hour, lang) + (tail or (" oh " if minute < 10 else " ") + _words(minute, lang))
        return spoken.replace("  ", " ") + (f" {m['ampm'].lower()} m" if m["ampm"] else "")
    if kind == "money":
        one, many, cent, cents = _CURRENCIES[m["currency"]]
        units = int(m["units"].replace(",", ""))
        spoken = f"{number_words(m['units'], lang)} {one if units == 1 else many}"
        if m["cents"] and int(m["cents"]):
            spoken += f" and {_words(int(m['cents']), lang)} {cent if int(m['cents']) == 1 else cents}"
        return spoken
    if kind == "ordinal":
        return _words(int(m["nth"].replace(",", "")), lang, to="ordinal")
    if kind == "number":
        spoken = _number(m, lang)
        return spoken + (" percent" if m["percent"] else "")
    if kind == "saint":
        return "Saint"
    if kind == "street":
        return "Street"
    if kind == "no":
        return "number"
    return _ABBREVIATIONS[m.group(0)]


def _number(m: re.Match[str], lang: str) -> str:
    whole = m["whole"]
    if m["fraction"] is None and "," not in whole and len(whole) == 4 and 1100 <= int(whole) <= 2099 \
            and not m["sign"] and not m["percent"]:
        spoken = _words(int(whole), lang, to="year")  # "1999" → "nineteen ninety-nine"
    else:
        spoken = number_words(whole, lang)
    if m["fraction"] is not None:
        spoken += " point " + " ".join(_words(int(d), lang) for d in m["fraction"])
    return ("minus " if m["sign"] else "") + spoken


def spoken_form(text: str, normalization: str = "auto", *, fixed: Iterable[Span] = (),
                lang: str = "en") -> list[Span]:
    """``(source_start, source_end, spoken)`` spans covering ``text`` in order.

    ``normalization`` is the ``apply_text_normalization`` setting: ``"auto"``
    and ``"on"`` write numbers and abbreviations out, ``"off"`` only collapses
    whitespace. ``fixed`` spans (sorted, disjoint; for example
    :func:`eleven_nb.ssml.spoken_overrides`) keep the spoken form given.
    Abbreviations are English; numbers follow ``lang`` where num2words knows it.
    Text that is spoken as written comes as long spans (``spoken`` equal to
    the source), so a plain text gives few spans.
    """
    if normalization not in NORMALIZATION_MODES:
        raise ValueError(f"apply_text_normalization must be one of {NORMALIZATION_MODES}, not {normalization!r}")
    raw: list[tuple[int, int, str, bool]] = []  # ..., and whether it is text spoken as written
    pos = 0
    for start, end, spoken in [*fixed, (len(text), len(text), "")]:
        if start < pos or end < start or end > len(text):
            raise ValueError(f"fixed spans must be sorted, disjoint and inside the text, not {(start, end)}")
        _free(raw, text, pos, start, normalization != "off", lang)
        if end > start:
            raw.append((start, end, spoken, False))
        pos = end
    return _collapse(raw)


def _free(out: list[tuple[int, int, str, bool]], text: str, start: int, end: int, expand: bool,
          lang: str) -> None:
    """Spans of ``text[start:end]``: runs spoken as written, whitespace to collapse, expansions."""
    pattern = _TOKEN if expand else _SPACES_ONLY
    pos = start
    for m in pattern.finditer(text, start, end):
        if m.start() > pos:
            out.append((pos, m.start(), text[pos:m.start()], True))
        is_space = not expand or m.lastgroup == "space"
        out.append((m.start(), m.end(), " " if is_space else _expand(m, lang), False))
        pos = m.end()
    if end > pos:
        out.append((pos, end, text[pos:end], True))


def _collapse(spans: list[tuple[int, int, str, bool]]) -> list[Span]:
    """One space between words, none at the start: a space after a space speaks as ""."""
    out: list[Span] = []
    after_space = True  # the start counts as after a space: the server adds the leading one
    for start, end, spoken, as_written in spans:
        if as_written and after_space and spoken[0] == " ":  # a single space, after a collapsed one
            out.append((start, start + 1, ""))
            start, spoken = start + 1, spoken[1:]
            if not spoken:
                continue
        elif spoken and spoken.isspace():
            spoken = "" if after_space else " "
            out.append((start, end, spoken))
            after_space = True
            continue
        out.append((start, end, spoken))
        if spoken:
            after_space = spoken[-1].isspace()
    return out


def spoken_text(spans: Sequence[Span]) -> str:
    """The spoken text of :func:`spoken_form` spans."""
    return "".join(spoken for _, _, spoken in spans)


def normalized_alignment(spans: Sequence[Span], starts_ms: Sequence[float], durations_ms: Sequence[float],
                         lead: str = " ") -> tuple[list[str], list[float], list[float]]:
    """``normalizedAlignment``'s ``chars``, start times and durations, from the source's timing.

    ``starts_ms[i]`` / ``durations_ms[i]`` time source character ``i``. A span
    whose spoken form is as long as its source maps character by character;
    any other is spread evenly over its spoken characters. ``lead`` (the
    generation's leading space) takes no time, at the first start.
    """
    chars: list[str] = []
    starts: list[float] = []
    durations: list[float] = []
    clock = starts_ms[0] if len(starts_ms) else 0.0
    if lead:
        chars.extend(lead)
        starts.extend([clock] * len(lead))
        durations.extend([0.0] * len(lead))
    for start, end, spoken in spans:
        if end > start:
            clock = starts_ms[start]
        if not spoken:
            continue
        if end - start == len(spoken):
            chars.extend(spoken)
            starts.extend(starts_ms[start:end])
            durations.extend(durations_ms[start:end])
            continue
        finish = max((starts_ms[i] + durations_ms[i] for i in range(start, end)), default=clock)
        step = (finish - clock) / len(spoken)
        chars.extend(spoken)
        starts.extend(clock + k * step for k in range(len(spoken)))
        durations.extend([step] * len(spoken))
    return chars, starts, durations
