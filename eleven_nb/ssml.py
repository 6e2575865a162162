"""The SSML the service accepts: ``<break>``, ``<phoneme>``, and tags that are never spoken.

:func:`parse` turns a generation's text into pieces, each with its span in the
source text, so the server can give every source character (tags included) a
time and ``alignment`` keeps covering exactly the text sent:

- :class:`Text`: plain text to speak (``text == source[start:end]``);
- :class:`Break`: a pause of ``seconds`` (``<break time="1.5s"/>``, ``"750ms"``;
  longer than :data:`MAX_BREAK_SECONDS` is shortened to it);
- :class:`Phoneme`: a word to pronounce from ``ipa`` (only with
  ``phonemes=True``, i.e. ``enable_ssml_parsing``; otherwise its tags are
  dropped and its word is spoken as text). CMU arpabet is converted to IPA.

Any other tag (``<speak>``, ``<prosody>``, unknown names) is dropped: never
spoken. Source characters not covered by a piece are such dropped tags.
Malformed markup raises :class:`SsmlError` with a one-line message. A "<" that
cannot start a tag ("a < b", "<3") is plain text, and so is an unclosed "<x"
whose name is not an SSML element.
"""
from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["MAX_BREAK_SECONDS", "Break", "Phoneme", "Piece", "SsmlError", "Text", "arpabet_to_ipa",
           "has_markup", "parse", "source_timing", "spoken_overrides"]

MAX_BREAK_SECONDS = 3.0  # the service's documented maximum pause
BREAK_STRENGTHS = {"none": 0.0, "x-weak": 0.1, "weak": 0.25, "medium": 0.5, "strong": 0.75, "x-strong": 1.0}
ALPHABETS = ("ipa", "cmu-arpabet")
# SSML 1.1 element names: an unclosed "<name" with one of these is an error, not text.
SSML_ELEMENTS = frozenset({"speak", "break", "phoneme", "prosody", "emphasis", "say-as", "sub", "p", "s",
                           "voice", "lang", "audio", "mark", "lexicon", "lookup", "meta", "metadata", "desc",
                           "token", "w"})


class SsmlError(ValueError):
    """Malformed markup; the message is one line, fit for an error frame."""


@dataclass(frozen=True)
class Text:
    """Plain text to speak: ``source[start:end]``."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Break:
    """A pause of ``seconds``, written as the tag ``source[start:end]``."""

    seconds: float
    start: int
    end: int


@dataclass(frozen=True)
class Phoneme:
    """``inner_text`` pronounced as ``ipa``; the whole element is ``source[start:end]``."""

    ipa: str
    alphabet: str  # as written: "ipa" or "cmu-arpabet"
    inner_text: str
    start: int
    end: int


Piece = Text | Break | Phoneme

_MARKUP = re.compile(r"<[A-Za-z/!?]")
# A tag: a comment, a declaration or processing instruction, or <name attributes> / </name> / <name/>.
_TAG = re.compile(r"<!--.*?-->|<[!?][^<>]*>|<(/?)([A-Za-z][\w:.-]*)([^<>]*?)(/?)>", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# An SSML element's tag with no ">" before the next "<" or the end.
_UNCLOSED = re.compile(r"</?(" + "|".join(sorted(SSML_ELEMENTS, key=len, reverse=True))
                       + r")(?![\w:.-])[^<>]*(?=<|\Z)", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""\s+([A-Za-z_:][\w:.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_TIME = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s)\s*", re.IGNORECASE)
_PHONEME_END = re.compile(r"</phoneme\s*>", re.IGNORECASE)
_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'"}


def has_markup(text: str) -> bool:
    """True when ``text`` may hold a tag (so :func:`parse` has work to do)."""
    return _MARKUP.search(text) is not None


def parse(text: str, *, phonemes: bool) -> list[Piece]:
    """Pieces of ``text`` in order; see the module docstring. Raises :class:`SsmlError`.

    Three scans by the regex engine (comments, unclosed tags, tags), so the
    time is linear in the text whatever it holds.
    """
    if not has_markup(text):
        return [Text(text, 0, len(text))] if text else []
    _check_unclosed(text)
    pieces: list[Piece] = []
    pos = 0  # start of the text not yet in a piece
    for tag in _TAG.finditer(text):
        lt = tag.start()
        if lt < pos:
            continue  # the closing tag of a phoneme element, already taken
        _add_text(pieces, text, pos, lt)
        pos = tag.end()
        closing, name, rest, empty = tag.group(1), (tag.group(2) or "").lower(), tag.group(3) or "", tag.group(4)
        if not name or closing:
            if name == "phoneme":
                raise SsmlError(f"</phoneme> at character {lt} closes no <phoneme>")
            continue  # a comment, a declaration or a closing tag: never spoken
        if name == "break":
            pieces.append(Break(_break_seconds(_attributes(rest, name, lt), lt), lt, tag.end()))
        elif name == "phoneme":
            pos = _phoneme(pieces, text, tag, _attributes(rest, name, lt), bool(empty), phonemes)
        elif name in SSML_ELEMENTS:
            _attributes(rest, name, lt)  # checked, then dropped with the tag
    _add_text(pieces, text, pos, len(text))
    return pieces


def _add_text(pieces: list[Piece], text: str, start: int, end: int) -> None:
    if end > start:
        pieces.append(Text(text[start:end], start, end))


def _check_unclosed(text: str) -> None:
    """Raise for an unclosed comment or SSML tag (other "<" without ">" are text)."""
    opened, closed = text.rfind("<!--"), text.rfind("-->")
    if opened >= 0 and closed < opened + 4:  # the last comment is never closed
        raise SsmlError(f"unclosed comment at character {opened}: '-->' is missing")
    comments = [(m.start(), m.end()) for m in _COMMENT.finditer(text)] if opened >= 0 else []
    starts = [a for a, _ in comments]
    for m in _UNCLOSED.finditer(text):
        i = bisect.bisect_left(starts, m.start()) - 1
        if i < 0 or comments[i][1] <= m.start():  # not inside a comment
            raise SsmlError(f"unclosed <{m.group(1)}> tag at character {m.start()}: a '>' is missing")


def _attributes(rest: str, name: str, at: int) -> dict[str, str]:
    """The tag's attributes; anything that is not ``name="value"`` is an error."""
    attributes: dict[str, str] = {}
    pos = 0
    for m in _ATTRIBUTE.finditer(rest):
        if rest[pos:m.start()].strip():
            break
        value = m.group(2) if m.group(2) is not None else m.group(3)
        for entity, char in _ENTITIES.items():
            value = value.replace(entity, char)
        attributes[m.group(1).lower()] = value
        pos = m.end()
    if rest[pos:].strip():
        bad = rest[pos:].strip().split()[0]
        raise SsmlError(f"bad attribute {bad!r} in <{name}> at character {at}: write name=\"value\"")
    return attributes


def _break_seconds(attributes: dict[str, str], at: int) -> float:
    if "time" in attributes:
        m = _TIME.fullmatch(attributes["time"])
        if m is None:
            raise SsmlError(f"bad break time {attributes['time']!r} at character {at}: "
                            "write seconds or milliseconds, like \"1.5s\" or \"750ms\"")
        seconds = float(m.group(1)) / (1000.0 if m.group(2).lower() == "ms" else 1.0)
        return min(seconds, MAX_BREAK_SECONDS)
    strength = attributes.get("strength", "medium").lower()
    if strength not in BREAK_STRENGTHS:
        raise SsmlError(f"bad break strength {strength!r} at character {at}: "
                        f"one of {', '.join(BREAK_STRENGTHS)}")
    return BREAK_STRENGTHS[strength]


def _phoneme(pieces: list[Piece], text: str, tag: re.Match[str], attributes: dict[str, str], empty: bool,
             phonemes: bool) -> int:
    """Add the element opened by ``tag``; return the index just past it."""
    at = tag.start()
    if empty:
        inner_start = inner_end = end = tag.end()
    else:
        close = _PHONEME_END.search(text, tag.end())
        if close is None:
            raise SsmlError(f"unclosed <phoneme> at character {at}: </phoneme> is missing")
        inner_start, inner_end, end = tag.end(), close.start(), close.end()
        if "<" in text[inner_start:inner_end] and has_markup(text[inner_start:inner_end]):
            raise SsmlError(f"<phoneme> at character {at} holds a tag: it may hold one word only")
    inner = text[inner_start:inner_end]
    if not phonemes:
        _add_text(pieces, text, inner_start, inner_end)
        return end
    alphabet = attributes.get("alphabet", "ipa").lower()
    ph = attributes.get("ph", "").strip()
    if alphabet not in ALPHABETS:
        raise SsmlError(f"unsupported phoneme alphabet {alphabet!r} at character {at}: use one of {ALPHABETS}")
    if not ph:
        raise SsmlError(f"<phoneme> at character {at} needs a non-empty ph=\"...\"")
    ipa = arpabet_to_ipa(ph) if alphabet == "cmu-arpabet" else ph
    pieces.append(Phoneme(ipa, alphabet, inner, at, end))
    return end


# --- CMU arpabet -> IPA --------------------------------------------------------------

_ARPABET = {
    "AA": "ɑ", "AE": "æ", "AH": "ʌ", "AO": "ɔ", "AW": "aʊ", "AX": "ə", "AXR": "ɚ", "AY": "aɪ", "EH": "ɛ",
    "ER": "ɝ", "EY": "eɪ", "IH": "ɪ", "IX": "ɨ", "IY": "i", "OW": "oʊ", "OY": "ɔɪ", "UH": "ʊ", "UW": "u",
    "UX": "ʉ", "B": "b", "CH": "tʃ", "D": "d", "DH": "ð", "DX": "ɾ", "EL": "l̩", "EM": "m̩", "EN": "n̩",
    "F": "f", "G": "ɡ", "HH": "h", "H": "h", "JH": "dʒ", "K": "k", "L": "l", "M": "m", "N": "n", "NG": "ŋ",
    "NX": "ɾ̃", "P": "p", "Q": "ʔ", "R": "ɹ", "S": "s", "SH": "ʃ", "T": "t", "TH": "θ", "V": "v", "W": "w",
    "WH": "ʍ", "Y": "j", "Z": "z", "ZH": "ʒ",
}
_UNSTRESSED = {"AH": "ə", "ER": "ɚ"}  # reduced forms of AH0 and ER0
_STRESS = {"1": "ˈ", "2": "ˌ"}
_SYMBOL = re.compile(r"([A-Za-z]+)([012]?)")


def arpabet_to_ipa(ph: str) -> str:
    """IPA for space-separated CMU arpabet (``"M AE1 D IH0 S AH0 N"`` → ``"mˈædɪsən"``).

    Stress marks go straight before the stressed vowel, as espeak-ng writes
    them (so piper and espeak-ng read them as their own).
    """
    out = []
    for symbol in ph.split():
        m = _SYMBOL.fullmatch(symbol)
        base = m.group(1).upper() if m else ""
        if base not in _ARPABET:
            raise SsmlError(f"unknown CMU arpabet symbol {symbol!r} in ph={ph!r}")
        stress = m.group(2) if m else ""
        sound = _UNSTRESSED.get(base, _ARPABET[base]) if stress == "0" else _ARPABET[base]
        out.append(_STRESS.get(stress, "") + sound)
    if not out:
        raise SsmlError("empty CMU arpabet ph")
    return "".join(out)


# --- what normalizedAlignment shows for markup -----------------------------------------

def spoken_overrides(pieces: list[Piece], length: int) -> list[tuple[int, int, str]]:
    """``(start, end, spoken)`` for every source span that is not plain text.

    Dropped tags are silent (``""``), a break is one space (its pause, and a
    word boundary), a phoneme element is its word. Give these to
    :func:`eleven_nb.normalize.spoken_form` as ``fixed`` so the spoken text of
    marked-up input is the plain text a reader expects.
    """
    out: list[tuple[int, int, str]] = []
    pos = 0
    for piece in pieces:
        if piece.start > pos:
            out.append((pos, piece.start, ""))
        if isinstance(piece, Break):
            out.append((piece.start, piece.end, " "))
        elif isinstance(piece, Phoneme):
            out.append((piece.start, piece.end, piece.inner_text))
        pos = piece.end
    if length > pos:
        out.append((pos, length, ""))
    return out


def source_timing(pieces: Sequence[Piece], length: int,
                  piece_times: Sequence[tuple[Sequence[float], Sequence[float]]]) -> tuple[list[float], list[float]]:
    """Start and duration (ms) of every source character, tags included, for ``alignment``.

    ``piece_times[i]`` times ``pieces[i]``: for a :class:`Text`, a start and a
    duration per character of its text; for a :class:`Break` or a
    :class:`Phoneme`, one start and one duration (the pause, the word). A
    break's or a phoneme element's characters share its time evenly; the
    characters of dropped tags take no time, where the speech before them ended.
    """
    starts: list[float] = []
    durations: list[float] = []
    clock = 0.0
    for piece, (piece_starts, piece_durations) in zip(pieces, piece_times):
        gap = piece.start - len(starts)  # dropped tags before this piece
        starts.extend([clock] * gap)
        durations.extend([0.0] * gap)
        size = piece.end - piece.start
        if isinstance(piece, Text):
            if len(piece_starts) != size or len(piece_durations) != size:
                raise ValueError(f"text piece at {piece.start} has {size} characters but "
                                 f"{len(piece_starts)} start times")
            starts.extend(piece_starts)
            durations.extend(piece_durations)
        else:
            step = piece_durations[0] / size
            starts.extend(piece_starts[0] + k * step for k in range(size))
            durations.extend([step] * size)
        clock = max(clock, starts[-1] + durations[-1]) if size else clock
    starts.extend([clock] * (length - len(starts)))
    durations.extend([0.0] * (length - len(durations)))
    return starts, durations
