"""``voice_controls()``: ipywidgets bound to the session defaults the next ``%%speak`` uses."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import ipywidgets as w

from ..protocol import MODELS, OUTPUT_FORMATS, VOICE_SETTING_RANGES, VoiceSettings
from .options import DEFAULTS

_SLIDERS = {  # option name -> label
    "stability": "stability",
    "similarity_boost": "similarity",
    "style": "style",
    "speed": "speed",
}


def _voice_choices(voices: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(f"{v['name']} ({v['voice_id']})", v["voice_id"]) for v in voices]


def voice_controls(voices: list[dict[str, Any]] | None = None) -> w.Widget:
    """A panel of voice, model, settings and format controls.

    Every change updates the session defaults at once, so the next ``%%speak``
    (and a player's "Speak again") uses it. ``voices`` defaults to the
    endpoint's ``/v1/voices``.
    """
    if voices is None:
        from .speaker import QUEUE

        voices = QUEUE.client().list_voices()
    opts = DEFAULTS.options
    choices = _voice_choices(voices)
    ids = [vid for _, vid in choices]
    default_voice = opts.voice if opts.voice in ids else next(
        (v["voice_id"] for v in voices if v.get("eleven_nb", {}).get("default")), ids[0] if ids else opts.voice)
    voice = w.Dropdown(options=choices, value=default_voice if default_voice in ids else None, description="voice")
    model = w.Dropdown(options=["(server default)", *MODELS], value=opts.model or "(server default)",
                       description="model")
    fmt = w.Dropdown(options=list(OUTPUT_FORMATS), value=opts.output_format, description="format")
    sliders = {}
    for name, label in _SLIDERS.items():
        lo, hi = VOICE_SETTING_RANGES[name]
        sliders[name] = w.FloatSlider(value=opts.voice_settings.get(name), min=lo, max=hi, step=0.05,
                                      description=label, continuous_update=False, readout_format=".2f")
    boost = w.Checkbox(value=opts.voice_settings.get("use_speaker_boost"), description="speaker boost")

    def apply(_: Any = None) -> None:
        settings = {name: s.value for name, s in sliders.items()}
        settings["use_speaker_boost"] = boost.value
        DEFAULTS.options = replace(
            DEFAULTS.options, voice=voice.value, output_format=fmt.value, voice_settings=VoiceSettings(**settings),
            model=None if model.value == "(server default)" else model.value,
        )

    for control in (voice, model, fmt, boost, *sliders.values()):
        control.observe(apply, names="value")
    apply()
    return w.VBox([w.HBox([voice, model]), *sliders.values(), boost, fmt],
                  layout=w.Layout(max_width="640px"))


def speakers(**voices: dict[str, Any] | str) -> dict[str, dict[str, Any]]:
    """Set per-speaker voices and settings for ``%%speak --dialog``.

    ``speakers(Alice={"voice": "joe", "speed": 1.1}, Bob="espeak-en-gb")``.
    """
    parsed: dict[str, dict[str, Any]] = {}
    for name, spec in voices.items():
        entry = {"voice": spec} if isinstance(spec, str) else dict(spec)
        VoiceSettings.from_dict({k: v for k, v in entry.items() if k != "voice"})  # validate
        parsed[name] = entry
    DEFAULTS.options = DEFAULTS.options.updated(speakers=parsed)
    return parsed
