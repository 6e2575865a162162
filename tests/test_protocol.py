"""The sans-I/O protocol core, fed dicts and strings: no sockets."""
import json

import pytest

from eleven_nb import protocol
from eleven_nb.alignment import Alignment
from eleven_nb.protocol import ConnectionOptions, ProtocolError, VoiceSettings


def test_endpoint_paths():
    assert protocol.endpoint_path("abc") == "/v1/text-to-speech/abc/stream-input"
    assert protocol.endpoint_path("abc", "multi-stream-input") == "/v1/text-to-speech/abc/multi-stream-input"
    with pytest.raises(ValueError):
        protocol.endpoint_path("a/b")
    with pytest.raises(ValueError):
        protocol.endpoint_path("abc", "nope")


# --- query parameters ---------------------------------------------------------------


def test_query_booleans_are_lowercase_and_none_is_left_out():
    query = ConnectionOptions(model_id="eleven_flash_v2_5", sync_alignment=True, auto_mode=False,
                              inactivity_timeout=180, seed=7).to_query()
    assert query == {"model_id": "eleven_flash_v2_5", "sync_alignment": "true", "auto_mode": "false",
                     "inactivity_timeout": "180", "seed": "7"}


@pytest.mark.parametrize("kwargs, words", [
    ({"inactivity_timeout": 181}, "between 1 and 180"),
    ({"inactivity_timeout": 0}, "between 1 and 180"),
    ({"output_format": "flac_44100"}, "not supported"),
    ({"seed": -1}, "seed"),
    ({"seed": 2**32}, "seed"),
    ({"apply_text_normalization": "maybe"}, "apply_text_normalization"),
    ({"language_code": "English"}, "ISO 639-1"),
    ({"sync_alignment": "yes"}, "True or False"),
    ({"model_id": "eleven_v3"}, "not available"),
])
def test_bad_options_get_clear_errors(kwargs, words):
    with pytest.raises(ValueError, match=words):
        ConnectionOptions(**kwargs)


def test_query_round_trip_and_defaults():
    options = ConnectionOptions.from_query({"sync_alignment": "true", "inactivity_timeout": "60", "seed": "3",
                                            "unknown": "ignored", "optimize_streaming_latency": "2"})
    assert options.sync_alignment is True and options.inactivity_timeout == 60 and options.seed == 3
    effective = ConnectionOptions().effective()
    assert effective.inactivity_timeout == 20
    assert effective.output_format == "mp3_44100_128"
    assert effective.enable_logging is True and effective.sync_alignment is False
    assert effective.apply_text_normalization == "auto"
    with pytest.raises(ValueError, match="true or false"):
        ConnectionOptions.from_query({"auto_mode": "perhaps"})
    with pytest.raises(ValueError, match="number"):
        ConnectionOptions.from_query({"inactivity_timeout": "soon"})


def test_output_formats():
    assert protocol.parse_output_format("mp3_44100").name == "mp3_44100_128"
    pcm = protocol.parse_output_format("pcm_24000")
    assert (pcm.codec, pcm.sample_rate, pcm.is_raw, pcm.bytes_per_second) == ("pcm", 24000, True, 48000)
    assert protocol.parse_output_format("ulaw_8000").bytes_per_second == 8000
    opus = protocol.parse_output_format("opus_48000_64")
    assert (opus.codec, opus.bitrate_kbps, opus.is_raw) == ("opus", 64, False)
    for name in ["mp3_22050_32", "mp3_24000_48", "wav_44100", "pcm_8000", "pcm_48000", "alaw_8000", "opus_48000_192", "mp3_44100_192"]:
        assert name in protocol.OUTPUT_FORMATS


# --- voice settings ------------------------------------------------------------------


def test_voice_settings_ranges():
    assert VoiceSettings(stability=0.5, speed=1.2).to_dict() == {"stability": 0.5, "speed": 1.2}
    for bad in [{"speed": 0.69}, {"speed": 1.21}, {"stability": 1.5}, {"style": -0.1},
                {"similarity_boost": float("nan")}, {"stability": "high"}, {"use_speaker_boost": "yes"}]:
        with pytest.raises(ValueError):
            VoiceSettings(**bad)
    assert VoiceSettings().get("speed") == 1.0 and VoiceSettings(speed=0.8).get("speed") == 0.8
    assert VoiceSettings.from_dict({"stability": 0.3, "future_field": 1}) == VoiceSettings(stability=0.3)


def test_chunk_length_schedule_limits():
    assert protocol.validate_chunk_length_schedule([50, 120.0, 500]) == (50, 120, 500)
    for bad in [[49], [501], [], "120", [True], [float("inf")]]:
        with pytest.raises(ValueError):
            protocol.validate_chunk_length_schedule(bad)


# --- client messages ------------------------------------------------------------------


def test_client_message_builders():
    init = protocol.initialize_connection(voice_settings={"stability": 0.5, "similarity_boost": 0.8},
                                          generation_config={"chunk_length_schedule": [50]}, api_key="k")
    assert init == {"text": " ", "voice_settings": {"stability": 0.5, "similarity_boost": 0.8},
                    "generation_config": {"chunk_length_schedule": [50]}, "xi_api_key": "k"}
    assert protocol.send_text("Hi ", try_trigger_generation=True) == {"text": "Hi ", "try_trigger_generation": True}
    assert protocol.send_text("Hi ", flush=True, context_id="c") == {"text": "Hi ", "context_id": "c", "flush": True}
    assert protocol.close_connection() == {"text": ""}
    assert protocol.keep_alive() == {"text": " "}
    assert protocol.keep_alive("c") == {"text": "", "context_id": "c"}
    assert protocol.flush_context("c") == {"context_id": "c", "flush": True}
    assert protocol.close_context("c") == {"context_id": "c", "close_context": True}
    assert protocol.close_socket() == {"close_socket": True}
    multi = protocol.initialize_connection(context_id="conv_1", voice_settings=VoiceSettings(stability=0.3))
    assert multi == {"text": " ", "context_id": "conv_1", "voice_settings": {"stability": 0.3}}
    with pytest.raises(ValueError):
        protocol.initialize_connection(voice_settings={"speed": 3})
    with pytest.raises(ValueError):
        protocol.flush_context("")


def test_parse_client_message_tolerates_the_spellings_in_the_wild():
    sdk_first = '{"text": " ", "try_trigger_generation": true, "voice_settings": null, ' \
                '"generation_config": {"chunk_length_schedule": [50]}}'
    msg = protocol.parse_client_message(sdk_first)
    assert msg.text == " " and msg.try_trigger_generation and not msg.has_voice_settings
    assert msg.chunk_length_schedule == (50,)
    assert protocol.parse_client_message({"text": "a", "xi-api-key": "K"}).api_key == "K"
    assert protocol.parse_client_message({"text": "a", "xi_api_key": "K"}).api_key == "K"
    assert protocol.parse_client_message({"contextId": "x", "flush": True}).context_id == "x"
    assert protocol.parse_client_message({"generator_config": {"chunk_length_schedule": [60]}}) \
        .chunk_length_schedule == (60,)
    extra = protocol.parse_client_message({"text": "a", "pronunciation_dictionary_locators": []})
    assert extra.extra == {"pronunciation_dictionary_locators": []}
    assert protocol.parse_client_message("{}").text is None


@pytest.mark.parametrize("raw", [
    "not json", "[1, 2]", '"text"', '{"text": 5}', '{"text": "a", "flush": "yes"}',
    '{"text": "a", "voice_settings": {"speed": 9}}', '{"text": "a", "voice_settings": [1]}',
    '{"text": "a", "context_id": 3}', '{"text": NaN}', '{"generation_config": {"chunk_length_schedule": [10]}}',
    b"\xff\xfe", '{"text": "a", "generation_config": 5}',
])
def test_invalid_client_frames_are_invalid_input_message(raw):
    with pytest.raises(ProtocolError) as info:
        protocol.parse_client_message(raw)
    assert info.value.error == "invalid_input_message" and info.value.code == 1008
    assert info.value.message.startswith("Could not parse input message")


# --- server messages ----------------------------------------------------------------------


def test_audio_and_final_messages_have_the_real_shape():
    alignment = Alignment(("H", "i"), (0.0, 70.4), (70.4, 100.0))
    msg = protocol.audio_message(b"\x00\x01", alignment, alignment)
    assert set(msg) == {"audio", "isFinal", "normalizedAlignment", "alignment"}
    assert msg["isFinal"] is None and msg["audio"] == "AAE="
    assert msg["alignment"] == {"chars": ["H", "i"], "charStartTimesMs": [0, 70], "charDurationsMs": [70, 100]}
    assert protocol.audio_message(b"x", context_id="c")["contextId"] == "c"
    assert protocol.final_message() == {"audio": None, "isFinal": True, "normalizedAlignment": None,
                                        "alignment": None}
    assert protocol.final_message("c")["contextId"] == "c"


def test_errors_have_documented_ids_messages_and_codes():
    timeout = ProtocolError.of("input_timeout_exceeded", timeout=20)
    assert timeout.to_message() == {
        "message": "Have not received a new text input within the timeout of 20.0 seconds. Streaming input "
                   "terminated. Please make sure to either feed the input in the timely manner, or to send "
                   'the end of input text (empty string "") when done.',
        "error": "input_timeout_exceeded", "code": 1008}
    assert ProtocolError.of("max_active_conversations").message.startswith(
        "Maximum simultaneous contexts per WebSocket connection exceeded (5).")
    assert ProtocolError.of("voice_settings_changed").message == (
        "voice_settings field must be provided in the first message and then either be not provided or not change.")
    assert ProtocolError.of("message_too_big", limit=1).code == 1009
    assert "error='invalid_api_key'" in repr(ProtocolError.of("invalid_api_key"))


def test_parse_server_message_reads_both_spellings():
    current = {"audio": "AAE=", "isFinal": None, "contextId": "c",
               "alignment": {"chars": ["a"], "charStartTimesMs": [0], "charDurationsMs": [5]},
               "normalizedAlignment": None}
    old = {"audio": "AAE=", "is_final": False, "context_id": "c",
           "alignment": {"chars": ["a"], "charsStartTimesMs": [0], "charsDurationsMs": [5]},
           "normalized_alignment": {"chars": ["a"], "charStartTimesMs": [0], "charDurationsMs": [5]}}
    for raw in (current, json.dumps(old)):
        msg = protocol.parse_server_message(raw)
        assert msg.audio == b"\x00\x01" and msg.context_id == "c" and not msg.is_final
        assert msg.alignment == Alignment(("a",), (0.0,), (5.0,))
    final = protocol.parse_server_message({"audio": None, "is_final": True, "context_id": "c"})
    assert final.is_final and final.audio is None and final.context_id == "c"
    assert protocol.parse_server_message({"isFinal": True}).is_final
    error = protocol.parse_server_message('{"message": "m", "error": "input_timeout_exceeded", "code": 1008}')
    assert error.error.error == "input_timeout_exceeded" and error.error.code == 1008
    flush_done = protocol.parse_server_message({"type": "flush_done", "context_id": "c", "flush_done": True})
    assert flush_done.raw_type == "flush_done" and flush_done.audio is None and not flush_done.is_final
    with pytest.raises(ValueError):
        protocol.parse_server_message("nope")


def test_a_lone_surrogate_cannot_be_sent():
    with pytest.raises(ValueError, match="lone surrogate"):
        protocol.send_text("bad \ud800 text ")
    assert protocol.send_text("fine 😀 text ")["text"] == "fine 😀 text "
