"""The spoken form of text, for normalizedAlignment."""
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eleven_nb.normalize import (
    normalized_alignment,
    number_words,
    spoken_form,
    spoken_text,
)
from eleven_nb.ssml import parse, spoken_overrides


def said(text, mode="auto"):
    return spoken_text(spoken_form(text, mode))


@pytest.mark.parametrize("text, spoken", [
    ("I have 2 cats.", "I have two cats."),
    ("It costs $5.50, or $1.", "It costs five dollars and fifty cents, or one dollar."),
    ("€3 and £1", "three euros and one pound"),
    ("the 21st and 2nd", "the twenty-first and second"),
    ("pi is 3.14", "pi is three point one four"),
    ("50% off", "fifty percent off"),
    ("at 3:05 pm.", "at three oh five p m."),
    ("by 10:00", "by ten o'clock"),
    ("in 1999", "in nineteen ninety-nine"),
    ("1,250 people", "one thousand two hundred and fifty people"),
    ("-7 degrees", "minus seven degrees"),
    ("Dr. Who met Mr. Smith", "Doctor Who met Mister Smith"),
    ("St. Louis, on Main St.", "Saint Louis, on Main Street"),
    ("No. 5, e.g. this & that, etc.", "number five, for example this and that, et cetera"),
    ("v2 and AT&T and 3D", "v2 and AT&T and 3D"),
])
def test_numbers_and_abbreviations_are_written_out(text, spoken):
    assert said(text) == said(text, "on") == spoken


def test_off_only_collapses_whitespace():
    assert said("  Dr.  2\n\n cats ", "off") == "Dr. 2 cats "
    assert said("Hello   world  ") == "Hello world "
    with pytest.raises(ValueError, match="apply_text_normalization"):
        spoken_form("x", "sometimes")


def test_long_digit_strings_are_read_digit_by_digit():
    assert number_words("12345678901234567890").startswith("one two three four")


def test_ssml_overrides_give_the_plain_spoken_text():
    text = 'Hi <break time="1s"/>there, <phoneme alphabet="ipa" ph="x">Madison</phoneme> has 2.<speak></speak>'
    spans = spoken_form(text, fixed=spoken_overrides(parse(text, phonemes=True), len(text)))
    assert spoken_text(spans) == "Hi there, Madison has two."


def test_normalized_alignment_spreads_source_times():
    spans = spoken_form("Hi  2")
    chars, starts, durations = normalized_alignment(spans, [0, 100, 200, 300, 400], [100] * 5)
    assert "".join(chars) == " Hi two"
    assert starts[:4] == [0, 0, 100, 200] and durations[3] == 200  # the collapsed space keeps both spaces' time
    assert starts[4:] == pytest.approx([400, 400 + 100 / 3, 400 + 200 / 3])


@given(st.text(alphabet=st.sampled_from("ab 12.,$%:\n-&St"), max_size=60), st.sampled_from(["auto", "off"]))
def test_spans_cover_the_source_in_order(text, mode):
    spans = spoken_form(text, mode)
    assert [s[0] for s in spans[:1]] in ([0], []) and all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert (spans[-1][1] if spans else 0) == len(text)
    spoken = spoken_text(spans)
    assert "  " not in spoken and not spoken.startswith(" ")
    chars, starts, _ = normalized_alignment(spans, [float(i) for i in range(len(text))], [1.0] * len(text))
    assert "".join(chars) == " " + spoken and starts == sorted(starts)


@given(st.text(max_size=60), st.sampled_from(["auto", "on", "off"]))
def test_any_unicode_text_has_a_spoken_form(text, mode):
    spans = spoken_form(text, mode)
    assert (spans[-1][1] if spans else 0) == len(text)
    chars, starts, durations = normalized_alignment(spans, [10.0 * i for i in range(len(text))], [10.0] * len(text))
    assert len(chars) == len(starts) == len(durations) and all(d >= 0 for d in durations)
