"""The voice-controls panel: names shown once, ignored settings greyed out, changes reach the next request."""
from __future__ import annotations

import ipywidgets as w

from eleven_nb.jupyter.controls import voice_choices


def controls(panel: w.Widget) -> dict[str, w.Widget]:
    """Every control in the panel by its label (without the ✗ mark)."""
    found: dict[str, w.Widget] = {}
    for child in panel.children:
        if isinstance(child, w.Box):
            found.update(controls(child))
        elif hasattr(child, "description"):
            found[child.description.rstrip(" ✗")] = child
    return found


def test_voice_names_are_shown_once_and_whole(ext):
    listed = ext.voices()
    by_id = {v["voice_id"]: v["name"] for v in listed}
    dropdown = controls(ext.voice_controls())["voice"]
    for label, voice_id in dropdown.options:
        assert label == by_id[voice_id]  # "Bram (espeak-ng, en-GB)", not "... (espeak-en-gb)"
    assert dropdown.value == next(v["voice_id"] for v in listed if v["eleven_nb"]["default"])
    assert float(dropdown.layout.width.rstrip("em")) * 16 >= 7.5 * max(len(label) for label, _ in dropdown.options)
    twins = voice_choices([{"voice_id": "a", "name": "Same"}, {"voice_id": "b", "name": "Same"}])
    assert len({label for label, _ in twins}) == 2  # clashing names are told apart by their ids


def test_settings_the_endpoint_ignores_are_greyed_out_with_a_reason(ext):
    found = controls(ext.voice_controls())
    ignored = set(ext.voices()[0]["eleven_nb"]["accepted_not_honoured"])
    assert {"similarity_boost", "style", "use_speaker_boost", "model_id"} <= ignored
    for label in ("similarity", "style", "speaker boost", "model"):
        assert found[label].disabled and "ignores" in found[label].tooltip
        assert found[label].description.endswith("✗")
    for label in ("speed", "stability", "voice", "format"):
        assert not found[label].disabled


def test_nothing_is_greyed_out_when_the_endpoint_honours_everything(ext):
    found = controls(ext.voice_controls(voices=[{"voice_id": "21m00Tcm4TlvDq8ikWAM", "name": "Rachel"}]))
    assert not any(c.disabled for c in found.values())


def test_a_slider_sets_the_next_request(ext):
    found = controls(ext.voice_controls())
    found["speed"].value = 1.15
    found["voice"].value = "espeak-en-gb"
    assert ext.defaults.voice_settings.get("speed") == 1.15 and ext.defaults.voice == "espeak-en-gb"
    player = ext.speak("Slightly faster now.", wait=True)
    assert player.status == "done" and player.chunks()
