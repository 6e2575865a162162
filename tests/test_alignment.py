"""Chunk-relative alignment → absolute timeline, words and captions."""
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eleven_nb.alignment import Alignment, Timeline


def chunk(text, step=100.0):
    return Alignment(tuple(text), tuple(i * step for i in range(len(text))), (step,) * len(text))


def test_timeline_uses_audio_durations_when_known():
    timeline = Timeline()
    assert timeline.add_chunk(chunk("Hi "), audio_ms=400) == 0
    assert timeline.add_chunk(chunk("you"), audio_ms=300) == 400
    assert timeline.text == "Hi you"
    assert timeline.starts_ms == [0, 100, 200, 400, 500, 600]
    words = timeline.words()
    assert [(w.text, w.start_ms, w.end_ms) for w in words] == [("Hi", 0, 200), ("you", 400, 700)]


def test_timeline_falls_back_to_alignment_end():
    timeline = Timeline()
    timeline.add_chunk(chunk("ab"))
    assert timeline.add_chunk(chunk("cd")) == 200
    timeline.add_chunk(None)  # a chunk without alignment (sync_alignment off) moves nothing
    assert timeline.end_ms == 400


def test_captions():
    timeline = Timeline()
    timeline.add_chunk(chunk("Hello world. Bye now.", step=50), audio_ms=1100)
    srt = timeline.to_srt()
    assert srt.startswith("1\n00:00:00,000 --> 00:00:00,600\nHello world.\n")
    assert "2\n00:00:00,650 --> 00:00:01,050\nBye now." in srt
    vtt = timeline.to_vtt()
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:00.600\nHello world.")


def test_alignment_validates_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        Alignment(("a",), (0.0, 1.0), (1.0,))
    assert chunk("abc").end_ms == 300 and chunk("abc").shifted(10).starts_ms[0] == 10


# --- captions a subtitle editor would accept -------------------------------------------------

def timed(text, step=60.0, pauses=None, start=0.0):
    """An alignment of ``text``, ``step`` ms a character, with extra ms before given character indices."""
    starts, clock = [], start
    for i in range(len(text)):
        clock += (pauses or {}).get(i, 0.0)
        starts.append(clock)
        clock += step
    return Alignment(tuple(text), tuple(starts), (step,) * len(text))


def timeline_of(text, **kwargs):
    timeline = Timeline()
    timeline.add_chunk(timed(text, **kwargs))
    return timeline


STORY = ("The old lighthouse keeper climbed up the spiral stairs every evening, lantern in hand, "
         "to check on the great lamp that guided the ships home. Nobody remembered when he first came "
         "to the island; some said he had always been there, like the rocks and the gulls. Yes. "
         "On stormy nights he stayed awake until dawn, watching the sea.")


def test_cues_respect_line_length_lines_and_span():
    cues = timeline_of(STORY, step=25.0).caption_cues()
    assert len(cues) > 4
    for cue in cues:
        assert 1 <= len(cue.lines) <= 2 and all(len(line) <= 42 for line in cue.lines)
        assert cue.end_ms - cue.start_ms <= 6000
    assert " ".join(" ".join(c.lines) for c in cues).split() == STORY.split()


def test_cues_break_at_sentence_and_clause_ends_never_after_a_weak_word():
    cues = timeline_of(STORY, step=25.0).caption_cues()
    for cue in cues[:-1]:
        last = cue.lines[-1].split()[-1]
        assert last[-1] in ".,;" or last.lower() not in {"the", "a", "to", "up", "of", "and"}, cue
    for cue in cues:
        for line in cue.lines[:-1]:
            assert line.split()[-1].lower() not in {"the", "a", "to", "of", "and"}, cue
    ends = [c.lines[-1][-1] for c in cues]
    assert ends.count(".") + ends.count(",") + ends.count(";") >= len(cues) - 1


def test_no_one_word_cues_a_lone_word_joins_its_neighbours():
    cues = timeline_of("The keeper climbed up the spiral stairs to the lamp. Yes. He did.").caption_cues()
    assert all(len(" ".join(c.lines).split()) > 1 for c in cues), cues
    spiral = timeline_of("The old lighthouse keeper climbed up the spiral stairs.").caption_cues()
    assert [c.lines for c in spiral] == [("The old lighthouse keeper", "climbed up the spiral stairs.")]


def test_a_long_pause_starts_a_new_cue_and_a_word_between_pauses_stands_alone():
    text = "Wait for it. Now. Go on then"
    pauses = {text.index("Now"): 900.0, text.index("Go"): 1200.0}
    cues = timeline_of(text, pauses=pauses).caption_cues()
    assert [c.text for c in cues] == ["Wait for it.", "Now.", "Go on then"]
    mid = "we walked along the shore and then we stopped"
    split = timeline_of(mid, pauses={mid.index("and"): 800.0}).caption_cues()
    assert [c.text for c in split] == ["we walked along the shore", "and then we stopped"]


def dialog():
    alice, bob = Timeline(), Timeline()
    alice.add_chunk(timed("Hello Bob, how are you? ", start=0.0), 1500.0)
    bob.add_chunk(timed("Fine, thanks. ", start=0.0), 900.0)
    bob_at = Timeline()
    bob_at.add_chunk(None, 1600.0)  # Bob speaks after Alice
    bob_at.add_chunk(bob.alignment(), 900.0)
    alice.add_chunk(None, 1000.0)
    alice.add_chunk(timed("Good to hear & see 1 < 2."), 1600.0)
    return Timeline.combine({"Alice": alice, "Bob": bob_at})


def test_speakers_give_cues_and_voice_tags():
    timeline = dialog()
    assert timeline.speakers[0] == "Alice" and "Bob" in timeline.speakers
    cues = timeline.caption_cues()
    assert [(c.speaker, c.text) for c in cues] == [("Alice", "Hello Bob, how are you?"), ("Bob", "Fine, thanks."),
                                                   ("Alice", "Good to hear & see 1 < 2.")]
    vtt = timeline.to_vtt()
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> ")
    assert "\n<v Alice>Hello Bob, how are you?\n" in vtt and "\n<v Bob>Fine, thanks.\n" in vtt
    assert "<v Alice>Good to hear &amp; see 1 &lt; 2.\n" in vtt
    assert "\nBob: Fine, thanks.\n" in timeline.to_srt()
    assert vtt == dialog().to_vtt()  # deterministic


def test_one_speaker_has_no_voice_tags_and_speaker_changes_split_words():
    timeline = Timeline()
    timeline.add_chunk(timed("Just me talking."), 1000.0, speaker="Me")
    assert "<v" not in timeline.to_vtt() and timeline.words()[0].speaker == "Me"
    mixed = Timeline()
    mixed.add_chunk(timed("ab"), 120.0, speaker="A")
    mixed.add_chunk(timed("cd"), 120.0, speaker="B")
    assert [(w.text, w.speaker) for w in mixed.words()] == [("ab", "A"), ("cd", "B")]


def test_markup_is_aligned_but_never_shown():
    text = 'Before <break time="1.5s" /> after, <phoneme alphabet="ipa" ph="x">Madison</phoneme>.'
    timeline = timeline_of(text)
    assert timeline.text == text
    assert [w.text for w in timeline.words()] == ["Before", "after,", "Madison", "."]
    assert "<" not in timeline.to_vtt().split("\n", 2)[2] and "break" not in timeline.to_srt()


def test_cjk_captions_are_cut_between_characters_without_spaces():
    text = "我们今天去公园散步，天气很好。" + "然后我们一起去吃饭了吃了很多好吃的东西大家都很开心" * 3 + "。"
    cues = timeline_of(text, step=100.0).caption_cues(max_ms=60000)
    assert all(len(line) <= 42 and " " not in line for c in cues for line in c.lines)
    assert "".join("".join(c.lines) for c in cues) == text
    assert cues[0].text == "我们今天去公园散步，天气很好。"


CAPTION_WORDS = st.sampled_from(["the", "keeper", "climbed,", "spiral", "stairs.", "Yes.", "a", "lighthouse",
                                 "extraordinarily", "of", "sea;", "and", "x" * 50, "dawn!", "night"])


@given(st.lists(st.tuples(CAPTION_WORDS, st.sampled_from([0.0, 0.0, 0.0, 300.0, 900.0])), min_size=1, max_size=80))
def test_caption_rules_hold_for_any_words(items):
    text, pauses = "", {}
    for word, pause in items:
        if text:
            text += " "
        pauses[len(text)] = pause
        text += word
    timeline = timeline_of(text, pauses=pauses)
    words = timeline.words()
    cues = timeline.caption_cues()
    assert " ".join(" ".join(c.lines) for c in cues).split() == text.split()
    assert [c.start_ms for c in cues] == sorted(c.start_ms for c in cues)
    position = 0
    for cue in cues:
        count = len(" ".join(cue.lines).split())
        group = words[position:position + count]
        position += count
        assert len(cue.lines) <= 2 and cue.end_ms > cue.start_ms
        if count > 1:
            assert all(len(line) <= 42 for line in cue.lines) and cue.end_ms - cue.start_ms <= 6000
            assert all(b.start_ms - a.end_ms <= 700 for a, b in itertools.pairwise(group))  # no long pause inside
