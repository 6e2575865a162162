"""SSML: breaks, phonemes, dropped tags, spans into the source, errors."""
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eleven_nb.ssml import (
    MAX_BREAK_SECONDS,
    Break,
    Phoneme,
    SsmlError,
    Text,
    arpabet_to_ipa,
    has_markup,
    parse,
    source_timing,
    spoken_overrides,
)

MADISON = '<phoneme alphabet="cmu-arpabet" ph="M AE1 D IH0 S AH0 N">Madison</phoneme>'


def test_break_becomes_a_pause_with_its_span():
    text = 'Before <break time="1.5s" /> after.'
    assert parse(text, phonemes=False) == [Text("Before ", 0, 7), Break(1.5, 7, 28), Text(" after.", 28, 35)]
    assert parse('a<break time="750ms"/>b', phonemes=True)[1] == Break(0.75, 1, 22)
    assert parse("<break time='2S'/>", phonemes=True) == [Break(2.0, 0, 18)]


def test_long_breaks_are_shortened_to_the_services_maximum():
    assert parse('<break time="10s"/>', phonemes=False) == [Break(MAX_BREAK_SECONDS, 0, 19)]
    assert parse('<break time="3500ms"/>', phonemes=False)[0].seconds == 3.0


def test_break_without_time_uses_its_strength():
    assert parse("<break/>", phonemes=False) == [Break(0.5, 0, 8)]
    assert parse('<break strength="x-strong"/>', phonemes=False)[0].seconds == 1.0


def test_phonemes_only_with_ssml_parsing():
    text = f"Say {MADISON} now."
    on = parse(text, phonemes=True)
    assert on == [Text("Say ", 0, 4), Phoneme("mˈædɪsən", "cmu-arpabet", "Madison", 4, 4 + len(MADISON)),
                  Text(" now.", 4 + len(MADISON), len(text))]
    off = parse(text, phonemes=False)
    inner = text.index("Madison<")
    assert off == [Text("Say ", 0, 4), Text("Madison", inner, inner + 7), Text(" now.", 4 + len(MADISON), len(text))]
    ipa = parse('<phoneme alphabet="ipa" ph="ˈæktʃuəli">actually</phoneme>', phonemes=True)[0]
    assert isinstance(ipa, Phoneme) and ipa.ipa == "ˈæktʃuəli" and ipa.inner_text == "actually"


def test_other_tags_are_never_spoken():
    text = '<speak>Hello <emphasis level="strong">world</emphasis><!-- a <b> c --> <foo>!</foo></speak>'
    pieces = parse(text, phonemes=True)
    assert "".join(p.text for p in pieces if isinstance(p, Text)) == "Hello world !"
    assert all(text[p.start:p.end] == p.text for p in pieces if isinstance(p, Text))


def test_plain_text_with_angle_brackets_stays_text():
    for text in ("a < b and c > d", "I <3 you", "x<y", "<", "if a <b"):
        assert parse(text, phonemes=True) == [Text(text, 0, len(text))]
    assert not has_markup("a < b") and has_markup("<break/>")


@pytest.mark.parametrize("text, message", [
    ('Before <break time="1.5s" after', "unclosed <break> tag at character 7"),
    ('<break time="soon"/>', "bad break time 'soon'"),
    ('<break time="-1s"/>', "bad break time"),
    ("<break time=1s/>", "bad attribute 'time=1s'"),
    ('<break strength="huge"/>', "bad break strength"),
    ('<phoneme alphabet="ipa" ph="x">word', "unclosed <phoneme>"),
    ('<phoneme alphabet="x-sampa" ph="x">w</phoneme>', "unsupported phoneme alphabet"),
    ('<phoneme alphabet="ipa">w</phoneme>', "needs a non-empty ph"),
    ('<phoneme alphabet="cmu-arpabet" ph="M XX1">w</phoneme>', "unknown CMU arpabet symbol 'XX1'"),
    ("word</phoneme>", "closes no <phoneme>"),
    ('<phoneme ph="x">a <break/> b</phoneme>', "holds a tag"),
    ("a <!-- note b", "unclosed comment at character 2"),
])
def test_malformed_markup_is_a_one_line_error(text, message):
    with pytest.raises(SsmlError, match=message) as info:
        parse(text, phonemes=True)
    assert "\n" not in str(info.value)


def test_malformed_phoneme_is_fine_when_phonemes_are_off():
    assert parse('<phoneme alphabet="x-sampa" ph="">word</phoneme>', phonemes=False)[0].text == "word"


def test_arpabet_to_ipa():
    assert arpabet_to_ipa("M AE1 D IH0 S AH0 N") == "mˈædɪsən"
    assert arpabet_to_ipa("T AH0 M EY1 T OW2") == "təmˈeɪtˌoʊ"
    assert arpabet_to_ipa("b er0 d") == "bɚd"


def test_spoken_overrides_cover_everything_but_text():
    text = f'<speak>Hi <break time="1s"/>{MADISON}.</speak>'
    pieces = parse(text, phonemes=True)
    overrides = spoken_overrides(pieces, len(text))
    assert [s for _, _, s in overrides] == ["", " ", "Madison", ""]
    covered = sorted([(p.start, p.end) for p in pieces if isinstance(p, Text)] + [(a, b) for a, b, _ in overrides])
    assert covered[0][0] == 0 and covered[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(covered))


MARKUP = st.sampled_from(["<speak>", "</speak>", '<break time="1s"/>', "<break/>", "a < b", "<3", MADISON,
                          '<emphasis level="x">', "</emphasis>", "Hello", " ", ", ", "x>y", "<!-- c -->"])


@given(st.lists(MARKUP, max_size=12), st.booleans())
def test_pieces_are_ordered_spans_of_the_source(parts, phonemes):
    text = "".join(parts)
    pieces = parse(text, phonemes=phonemes)
    ends = [0]
    for piece in pieces:
        assert piece.start >= ends[-1] and piece.end > piece.start
        ends.append(piece.end)
        if isinstance(piece, Text):
            assert text[piece.start:piece.end] == piece.text
    assert all("<break" not in p.text for p in pieces if isinstance(p, Text))


def test_source_timing_times_every_character_tags_included():
    text = f'<speak>Hi<break time="1s"/>{MADISON}</speak>'
    pieces = parse(text, phonemes=True)
    assert [type(p).__name__ for p in pieces] == ["Text", "Break", "Phoneme"]
    times = [([0.0, 100.0], [100.0, 100.0]), ([200.0], [1000.0]), ([1200.0], [500.0])]
    starts, durations = source_timing(pieces, len(text), times)
    assert len(starts) == len(durations) == len(text)
    assert starts[:7] == [0.0] * 7 and durations[:7] == [0.0] * 7  # <speak> takes no time
    assert starts[7:9] == [0.0, 100.0]
    brk = pieces[1]
    assert sum(durations[brk.start:brk.end]) == pytest.approx(1000.0) and starts[brk.start] == 200.0
    assert sum(durations[pieces[2].start:pieces[2].end]) == pytest.approx(500.0)
    assert starts[-1] == pytest.approx(1700.0) and durations[-1] == 0.0  # </speak>, after the speech
    assert starts == sorted(starts)
    with pytest.raises(ValueError, match="2 characters but 1 start times"):
        source_timing(pieces[:1], len(text), [([0.0], [1.0])])


@given(st.text(alphabet=st.sampled_from('<>/!?-="\' abkphonemebreakspeak12.smx'), max_size=80), st.booleans())
def test_any_text_parses_or_fails_with_ssml_error(text, phonemes):
    try:
        pieces = parse(text, phonemes=phonemes)
    except SsmlError as exc:
        assert "\n" not in str(exc)
        return
    ends = [0]
    for piece in pieces:
        assert piece.start >= ends[-1] and piece.end > piece.start
        ends.append(piece.end)
        if isinstance(piece, Break):
            assert 0 <= piece.seconds <= MAX_BREAK_SECONDS
    assert ends[-1] <= len(text)
