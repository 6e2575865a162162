"""Client-side chunking and server-side schedule buffering."""
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from eleven_nb.chunking import (
    PhraseChunker,
    ScheduleBuffer,
    chunk_text,
    iter_phrases,
    split_for_engine,
    split_sentences,
)

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


# --- the linear code gives the old pieces on ordinary text ------------------------------

from tests import old_chunking as old

WORDS = st.sampled_from(["Hello", "world", "a", "I", "streaming", "text-to-speech", "3.14", "e.g.", "Dr.",
                         "don't", "été", "x" * 45, "naïve"])
SEPARATORS = st.sampled_from([" ", " ", " ", ", ", ". ", "! ", "? ", "; ", ": ", " — ", "... ", ".\n",
                              "\n\n", "  ", ".) ", '." ', "…", ",", "."])


@st.composite
def ordinary_text(draw):
    parts = draw(st.lists(st.tuples(WORDS, SEPARATORS), max_size=60))
    lead = draw(st.sampled_from(["", " ", "\n"]))
    return lead + "".join(w + s for w, s in parts)


def frames_of(draw, text):
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=12)))
    return [text[a:b] for a, b in zip([0] + cuts, cuts + [len(text)])]


@given(ordinary_text(), st.sampled_from([12, 40, 300]))
def test_split_for_engine_matches_the_old_code(text, limit):
    assert split_for_engine(text, limit) == old.split_for_engine(text, limit)
    assert split_sentences(text) == old.split_sentences(text)


@given(ordinary_text(), st.sampled_from(["sentence", "phrase", "word", 7, 30]), st.booleans())
def test_chunk_text_matches_the_old_code(text, mode, first):
    assert chunk_text(text, mode, first) == old.chunk_text(text, mode, first)


@given(st.data())
def test_schedule_buffer_matches_the_old_code(data):
    text = data.draw(ordinary_text())
    auto = data.draw(st.booleans())
    schedule = data.draw(st.sampled_from([(50,), (120, 160, 250, 290), (60, 90)]))
    new, reference = ScheduleBuffer(schedule, auto), old.ScheduleBuffer(schedule, auto)
    for frame in frames_of(data.draw, text):
        trigger = data.draw(st.booleans())
        assert new.append(frame, try_trigger=trigger) == reference.append(frame, try_trigger=trigger)
        assert new.text == reference.text and len(new) == len(reference.text)
    assert new.drain() == reference.drain()


@given(st.data())
def test_phrase_chunker_matches_the_old_code(data):
    text = data.draw(ordinary_text())
    assume(max(map(len, text.split()), default=0) <= 80)  # longer runs are cut now: pending text stays bounded
    tokens = frames_of(data.draw, text)
    assert list(iter_phrases(tokens, 40)) == list(old.iter_phrases(tokens, 40))


@given(st.text(max_size=50))
def test_is_speakable_is_isalnum(text):
    from eleven_nb.chunking import is_speakable
    assert is_speakable(text) == old.is_speakable(text)


# --- any text: pieces join back, limits hold -------------------------------------------

ANY = st.text(alphabet=st.sampled_from("ab .,!?\n;:—é3。，你好<>/\"=') 、"), max_size=300)


@given(ANY, st.sampled_from([5, 40, 300]))
def test_pieces_join_back_exactly(text, limit):
    assert "".join(split_for_engine(text, limit)) == text
    assert "".join(split_sentences(text)) == text
    for mode in ("sentence", "phrase", "word", limit):
        assert _letters("".join(chunk_text(text, mode, False))) == _letters(text)


@given(st.data())
def test_streams_join_back_exactly(data):
    text = data.draw(ANY)
    auto = data.draw(st.booleans())
    buf = ScheduleBuffer((50, 80), auto)
    out = [g for frame in frames_of(data.draw, text) for g in buf.append(frame, data.draw(st.booleans()))]
    assert "".join(out + buf.drain()) == text
    tokens = frames_of(data.draw, text)
    assert _letters("".join(iter_phrases(tokens, 20))) == _letters(text)


def _letters(text):
    """The text without its whitespace: client chunks only ever add a space."""
    return "".join(text.split())


# --- CJK and other scripts -----------------------------------------------------------------

def test_phrase_chunker_speaks_chinese_and_japanese_as_it_arrives():
    chunker = PhraseChunker()
    got = [chunker.feed(t) for t in ["我们", "今天", "去公园", "散步，", "天气", "很好。", "你呢？"]]
    assert got == [[], [], [], [], ["我们今天去公园散步， "], [], ["天气很好。 "]]
    assert chunker.close() == ["你呢？ "]
    japanese = ["今日は", "いい", "天気", "ですね。", "散歩に", "行きましょう！", "「はい」と", "言った。"]
    assert list(iter_phrases(japanese)) == ["今日はいい天気ですね。 ", "散歩に行きましょう！ ", "「はい」と言った。 "]


def test_closing_quotes_stay_with_cjk_punctuation():
    assert list(iter_phrases(["他说：", "「你好。", "」", "然后走了。"])) == ["他说： ", "「你好。」 ", "然后走了。 "]


def test_long_cjk_runs_are_cut_by_length():
    text = "一二三四五六七八九十" * 6
    phrases = list(iter_phrases(list(text), max_chars=10))
    assert len(phrases) >= 5 and all(len(p.strip()) <= 11 for p in phrases)
    assert "".join(p.strip() for p in phrases) == text
    word = "x" * 100  # no break at all: released whole past 2 * max_chars, never held forever
    assert [p.strip() for p in iter_phrases(list(word), max_chars=10)][:2] == ["x" * 10, "x" * 10]


def test_arabic_and_devanagari_punctuation_end_phrases():
    assert split_sentences("كيف حالك؟ أنا بخير.") == ["كيف حالك؟ ", "أنا بخير."]
    assert list(iter_phrases(["مرحبا،", " كيف", " حالك؟", " أنا"])) == ["مرحبا، ", "كيف حالك؟ ", "أنا "]
    assert split_sentences("नमस्ते। आप कैसे हैं?") == ["नमस्ते। ", "आप कैसे हैं?"]


def test_auto_mode_releases_cjk_at_punctuation_and_long_runs():
    auto = ScheduleBuffer(auto_mode=True)
    assert auto.append("我们今天") == []
    assert auto.append("去公园散步，天") == ["我们今天去公园散步，"]
    assert auto.append("气很好。") == ["天气很好。"]
    run = ScheduleBuffer(auto_mode=True, cjk_run=20)
    out = [g for ch in "一二三四五六七八九十" * 5 for g in run.append(ch)]
    assert out and all(len(g) <= 21 for g in out) and "".join(out + run.drain()) == "一二三四五六七八九十" * 5


def test_schedule_releases_cjk_text_without_spaces():
    buf = ScheduleBuffer((50,))
    out = [g for ch in "天气很好" * 20 for g in buf.append(ch)]
    assert out and len(out[0]) == 49 and "".join(out + buf.drain()) == "天气很好" * 20


def test_split_for_engine_cuts_long_cjk_sentences():
    text = "我们今天去公园散步" * 50 + "。好的。"
    pieces = split_for_engine(text, limit=40)
    assert "".join(pieces) == text and max(map(len, pieces)) <= 40 and pieces[-1] == "好的。"


# --- markup is never cut -------------------------------------------------------------------

SSML = ('Before the pause, <break time="1.5s" /> after it; say '
        '<phoneme alphabet="ipa" ph="ˈmædɪsən">Madison, please</phoneme> now. ')


def _tags_whole(piece):
    return piece.count("<") == piece.count(">") and piece.count("<phoneme") == piece.count("</phoneme")


@pytest.mark.parametrize("auto", [False, True])
@pytest.mark.parametrize("frame", [1, 3, 11])
def test_schedule_buffer_never_cuts_inside_markup(auto, frame):
    text = SSML * 4
    buf = ScheduleBuffer((50,), auto)
    out = [g for i in range(0, len(text), frame) for g in buf.append(text[i:i + frame])]
    out += buf.drain()
    assert "".join(out) == text and len(out) > 3 and all(_tags_whole(g) for g in out)


def test_an_unclosed_tag_waits_but_not_forever():
    buf = ScheduleBuffer(auto_mode=True)
    assert buf.append("Hello there. Wait <break time=") == ["Hello there. "]
    assert buf.append('"1s"/> and, ') == ['Wait <break time="1s"/> and, ']
    assert buf.append("a < b, ") == ["a < b, "]  # plain text: the "<" is no tag
    held = ScheduleBuffer(auto_mode=True)
    assert held.append("x <" + "y, " * 30) == []  # still inside the 200-character limit: it may be a tag
    assert held.append("z, " * 50) != []


def test_split_for_engine_and_chunkers_keep_tags_whole():
    for limit in (12, 30, 300):
        assert all(_tags_whole(p) for p in split_for_engine(SSML * 3, limit))
    for mode in ("sentence", "phrase", "word", 10):
        assert all(_tags_whole(p) for p in chunk_text(SSML, mode))
    assert all(_tags_whole(p) for p in iter_phrases(list(SSML), max_chars=10))


# --- the attacks of issue 13 stay cheap (the figures are bench/bench_chunking.py's) ------------

def test_hostile_whitespace_and_punctuation_stay_cheap():
    """Each of these took 3 to 50 s when chunking was quadratic; the guard is generous (CPU time)."""
    import time
    start = time.process_time()
    for text in (" " * 99_000, "\n" * 40_000, ", " * 50_000, "." * 50_000 + "x", "a" * 99_000):
        assert "".join(split_for_engine(text)) == text
        assert "".join(split_sentences(text)) == text
    auto = ScheduleBuffer(auto_mode=True)
    assert [g for _ in range(4_000) for g in auto.append(", ")] == [] and len(auto) == 8_000
    assert list(iter_phrases(["我们"] * 20_000))
    assert time.process_time() - start < 3.0


def test_a_text_without_sentence_ends_is_sent_in_bounded_pieces():
    from eleven_nb.chunking import MAX_SEND_PIECE

    for text in ("word " * 30000, "😀" * 30000):
        pieces = chunk_text(text)
        assert max(map(len, pieces)) <= MAX_SEND_PIECE + 1  # (+1: the trailing space a piece must end with)
        assert "".join(pieces).replace(" ", "") == text.replace(" ", "")  # nothing lost
