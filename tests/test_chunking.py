"""Client-side chunking and server-side schedule buffering."""
import pytest
from hypothesis import given, strategies as st

from eleven_nb.chunking import (PhraseChunker, ScheduleBuffer, chunk_text, iter_phrases, split_for_engine,
                                split_sentences)

TEXT = "Hello there! How are you doing today? This is streaming text-to-speech, in pieces; nice."


def test_sentences_join_back():
    parts = split_sentences(TEXT)
    assert parts == ["Hello there! ", "How are you doing today? ",
                     "This is streaming text-to-speech, in pieces; nice."]
    assert "".join(parts) == TEXT


@given(st.text(alphabet=st.sampled_from("ab .,!?\n;:—é3"), max_size=400))
def test_split_for_engine_covers_text_exactly(text):
    pieces = split_for_engine(text, limit=40)
    assert "".join(pieces) == text
    assert all(len(p) <= 40 * 2 for p in pieces)  # unspeakable scraps may ride along


def test_split_for_engine_bounds_long_text():
    text = ("word " * 400).strip() + "."
    pieces = split_for_engine(text)
    assert "".join(pieces) == text and max(map(len, pieces)) <= 300


@pytest.mark.parametrize("mode", ["sentence", "phrase", "word", 20, "25"])
def test_chunk_text_modes_end_in_space_and_keep_words(mode):
    chunks = chunk_text(TEXT, mode)
    assert all(c.endswith(" ") for c in chunks)
    assert "".join(chunks).split() == TEXT.split()


def test_first_chunk_is_a_short_phrase():
    long = "This first sentence keeps going, with a clause, and another clause, and still more words until it ends. Next."
    chunks = chunk_text(long, "sentence")
    assert len(chunks[0]) <= 61 and "".join(chunks).split() == long.split()


def test_chunk_text_rejects_bad_modes():
    with pytest.raises(ValueError, match="chunk mode"):
        chunk_text("x", "paragraph")
    with pytest.raises(ValueError, match="positive"):
        chunk_text("x", 0)


def test_phrase_chunker_releases_as_tokens_arrive():
    chunker = PhraseChunker()
    assert chunker.feed("Hello") == []
    assert chunker.feed(" there,") == []  # the comma might still be part of "there,5"
    assert chunker.feed(" how") == ["Hello there, "]
    assert chunker.feed(" are you?") == []
    assert chunker.close() == ["how are you? "]
    tokens = ["The ", "quick ", "brown ", "fox. ", "It ", "ran; ", "far."]
    assert "".join(iter_phrases(tokens)).split() == "".join(tokens).split()


def test_schedule_buffer_follows_the_schedule():
    buf = ScheduleBuffer((50, 80))
    assert buf.append("a" * 10 + " ") == []
    out = buf.append("b" * 40 + " more")
    assert out == ["a" * 10 + " " + "b" * 40 + " "] and buf.text == "more"
    assert buf.append(" " + "c" * 60) == []  # 65 < 80 now
    assert buf.append(" " + "d" * 20 + " ") == ["more " + "c" * 60 + " " + "d" * 20 + " "]
    assert buf.drain() == [] and buf.append("tail") == [] and buf.drain() == ["tail"]


def test_schedule_buffer_try_trigger_and_auto_mode():
    buf = ScheduleBuffer((120,))
    assert buf.append("x" * 40 + " ", try_trigger=True) == []  # under the 50-character minimum
    assert buf.append("x" * 14 + " ", try_trigger=True) == ["x" * 40 + " " + "x" * 14 + " "]
    auto = ScheduleBuffer(auto_mode=True)
    assert auto.append("Hello there") == []
    assert auto.append(", friend. How") == ["Hello there, friend. "]
    assert auto.drain() == ["How"] and auto.drain() == []
