"""The voice-controls panel: ipywidgets bound to an extension's session defaults.

Every change updates the defaults at once, so the next ``%%speak`` (and a
player's "Speak again") uses it. Settings the endpoint lists for the chosen
voice under ``eleven_nb.accepted_not_honoured`` (the local engines accept
``similarity_boost``, ``style``, ``use_speaker_boost`` and ``model_id`` but
cannot act on them) are greyed out and say so in their tooltip.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import ipywidgets as w  # type: ignore[import-untyped]  # (no stubs)

from ..protocol import (
    DEFAULT_VOICE_ID,
    MODELS,
    OUTPUT_FORMATS,
    VOICE_SETTING_RANGES,
    VoiceSettings,
)

SLIDERS = {  # option name -> label
    "stability": "stability",
    "similarity_boost": "similarity",
    "style": "style",
    "speed": "speed",
}
SERVER_DEFAULT_MODEL = "(server default)"
IGNORED_TIP = "the local engine accepts {name} for this voice but ignores it (the ElevenLabs service honours it)"
_STYLE = {"description_width": "6em"}


def voice_choices(voices: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """``(label, voice_id)`` pairs: the voice's name once; the id only where two names clash."""
    names = [str(v.get("name") or v["voice_id"]) for v in voices]
    return [(name if names.count(name) == 1 else f"{name} · {v['voice_id']}", v["voice_id"])
            for name, v in zip(names, voices)]


def not_honoured(voice: Mapping[str, Any] | None) -> set[str]:
    """What the endpoint says it accepts but ignores for ``voice`` (nothing, for the real service)."""
    return set(((voice or {}).get("eleven_nb") or {}).get("accepted_not_honoured") or ())


def _initial_voice(current: str, voices: list[dict[str, Any]]) -> str | None:
    ids = [v["voice_id"] for v in voices]
    if current in ids:
        return current
    if current == DEFAULT_VOICE_ID:  # the default-voice alias: select the voice the endpoint marks default
        marked = next((v["voice_id"] for v in voices if (v.get("eleven_nb") or {}).get("default")), None)
        return marked or (ids[0] if ids else None)
    return ids[0] if ids else None


def build_panel(extension: Any, voices: list[dict[str, Any]]) -> w.VBox:
    """The panel for ``extension`` (its ``defaults`` are read now and written on every change)."""
    opts = extension.defaults
    by_id = {v["voice_id"]: v for v in voices}
    voice = w.Dropdown(options=voice_choices(voices), value=_initial_voice(opts.voice, voices),
                       description="voice", style=_STYLE, layout=w.Layout(width="26em"))
    model = w.Dropdown(options=[SERVER_DEFAULT_MODEL, *MODELS], value=opts.model or SERVER_DEFAULT_MODEL,
                       description="model", style=_STYLE, layout=w.Layout(width="22em"))
    fmt = w.Dropdown(options=list(OUTPUT_FORMATS), value=opts.output_format, description="format", style=_STYLE)
    sliders: dict[str, w.FloatSlider] = {}
    for name, label in SLIDERS.items():
        lo, hi = VOICE_SETTING_RANGES[name]
        sliders[name] = w.FloatSlider(value=opts.voice_settings.get(name), min=lo, max=hi, step=0.05,
                                      description=label, continuous_update=False, readout_format=".2f",
                                      style=_STYLE, layout=w.Layout(width="30em"))
    boost = w.Checkbox(value=opts.voice_settings.get("use_speaker_boost"), description="speaker boost",
                       style=_STYLE)
    by_setting: dict[str, w.DOMWidget] = {**sliders, "use_speaker_boost": boost, "model_id": model}
    labels = {name: control.description for name, control in by_setting.items()}

    def mark_ignored(_: Any = None) -> None:
        ignored = not_honoured(by_id.get(voice.value))
        for name, control in by_setting.items():
            control.disabled = name in ignored
            control.tooltip = IGNORED_TIP.format(name=name) if name in ignored else None
            control.description = f"{labels[name]} ✗" if name in ignored else labels[name]

    def apply(_: Any = None) -> None:
        settings: dict[str, Any] = {name: s.value for name, s in sliders.items()}
        settings["use_speaker_boost"] = boost.value
        extension.defaults = replace(
            extension.defaults, voice=voice.value or extension.defaults.voice, output_format=fmt.value,
            voice_settings=VoiceSettings(**settings),
            model=None if model.value == SERVER_DEFAULT_MODEL else model.value,
        )

    voice.observe(mark_ignored, names="value")
    for control in (voice, model, fmt, boost, *sliders.values()):
        control.observe(apply, names="value")
    mark_ignored()
    apply()
    return w.VBox([w.HBox([voice, model]), *sliders.values(), boost, fmt], layout=w.Layout(max_width="760px"))


def parse_speaker_specs(voices: Mapping[str, Mapping[str, Any] | str]) -> dict[str, dict[str, Any]]:
    """``{"Alice": {"voice": "joe", "speed": 1.1}, "Bob": "espeak-en-gb"}``, validated."""
    parsed: dict[str, dict[str, Any]] = {}
    for name, spec in voices.items():
        entry = {"voice": spec} if isinstance(spec, str) else dict(spec)
        VoiceSettings.from_dict({k: v for k, v in entry.items() if k != "voice"})  # validate
        parsed[name] = entry
    return parsed
