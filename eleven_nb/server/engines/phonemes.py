"""IPA as written in ``<phoneme ph="...">`` into each engine's own phoneme symbols.

People write IPA in several ways: with slashes or brackets around it, tie bars
(``t͡ʃ``), ligatures (``ʧ``), an ASCII ``g`` or ``'`` for stress. :func:`clean_ipa`
settles those; :func:`espeak_ipa` gives the symbols espeak-ng (and so piper) uses,
:func:`misaki` the ones hibari's model was trained on (one letter per diphthong).
"""
from __future__ import annotations

import re
import unicodedata

_DELIMITERS = re.compile(r"[/\[\]]")
_ASCII = {"g": "ɡ", "'": "ˈ", "\u0361": "", "\u035c": "", ":": "ː", "ʧ": "tʃ", "ʤ": "dʒ", "ʦ": "ts"}
# espeak-ng's English set has no r-coloured ɝ: it writes ɜː
_ESPEAK = (("ɝ", "ɜː"), ("ɹ̩", "ɚ"))
# misaki (hibari): diphthongs and affricates are one letter; flaps and glottal stops as it writes them
_MISAKI = (("eɪ", "A"), ("aɪ", "I"), ("oʊ", "O"), ("əʊ", "Q"), ("aʊ", "W"), ("ɔɪ", "Y"),
           ("dʒ", "ʤ"), ("tʃ", "ʧ"), ("ɝ", "ɜɹ"), ("ɚ", "əɹ"), ("ɾ", "T"), ("ʔ", "t"), ("ɫ", "l"),
           ("r", "ɹ"), ("ɜː", "ɜɹ"))


def clean_ipa(ipa: str) -> str:
    """One spelling of IPA: NFC, no delimiters or tie bars, ASCII stand-ins replaced, spaces single."""
    text = unicodedata.normalize("NFC", _DELIMITERS.sub("", ipa))
    text = "".join(_ASCII.get(ch, ch) for ch in text)
    return " ".join(text.split())


def _replace(ipa: str, table: tuple[tuple[str, str], ...]) -> str:
    for old, new in table:
        ipa = ipa.replace(old, new)
    return ipa


def espeak_ipa(ipa: str) -> str:
    """IPA in espeak-ng's (piper's) symbols."""
    return _replace(clean_ipa(ipa), _ESPEAK)


def misaki(ipa: str) -> str:
    """IPA in hibari's (misaki's) symbols."""
    return _replace(clean_ipa(ipa), _MISAKI)
