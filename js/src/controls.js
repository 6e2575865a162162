// @ts-check
// The control bar: play/pause, stop, clock, status line, the endpoint speaking, readout, speak again,
// downloads; and the "click to enable audio" button when the browser blocked audio.
import { mediaTime } from "./clock.js";
import { button, h, setAttr, setData, setProp, setText } from "./dom.js";
import { CLOCK_STEP_MS, clock, nextStep, readout, statusLine } from "./format.js";
import { audible, due, memberOf } from "./playback.js";
import * as queue from "./queue.js";

/** @typedef {import("./state.js").Player} Player */

/** @param {Player} s */
export function controlsView(s) {
  const play = button("enb-play", "▶", "Play");
  const stop = button("enb-stop", "■", "Stop");
  const time = h("span", "enb-clock");
  const timeText = h("span", "enb-clock-text", "0:00.0 / 0:00.0"); // its own layout (see player.css)
  time.append(timeText);
  const status = h("span", "enb-status");
  status.setAttribute("role", "status");
  const endpoint = h("span", "enb-endpoint");
  const meter = h("span", "enb-readout");
  meter.title = "Time to first audio and real-time factor (synthesis time ÷ audio length)";
  const again = button("enb-again", "↻ Speak again", "Speak the cell again");
  const wav = button("enb-wav", "⤓ WAV", "Download the audio (WAV)");
  const vtt = button("enb-vtt", "⤓ VTT", "Download the captions (WebVTT)");
  const bar = h("div", "enb-bar");
  bar.append(play, stop, time, status, endpoint, meter, again, wav, vtt);
  const unlockBtn = button("enb-unlock", "🔇 The browser blocked audio. Click to enable audio.", "Click to enable audio");
  unlockBtn.hidden = true;
  let shownClock = "";

  return {
    bar, unlockBtn, play, stop, again, wav, vtt,
    /** The clock at `t`; gives when its tenth of a second changes. @param {number} t @param {number} total */
    frame(t, total) {
      const text = `${clock(t)} / ${clock(s.streamDone ? s.bufferedEnd : total)}`;
      if (text !== shownClock) { timeText.textContent = text; shownClock = text; }
      return nextStep(t, CLOCK_STEP_MS);
    },
    /** @param {HTMLElement} root */
    refresh(root) { // once per kernel message: only what changed is written
      const playing = audible(s);
      setText(play, playing ? "❚❚" : "▶");
      setAttr(play, "aria-label", playing ? "Pause" : "Play");
      setProp(play, "title", playing ? "Pause (space)" : "Play (space)");
      setProp(play, "disabled", !s.chunks.length);
      setProp(stop, "disabled", !s.chunks.length);
      setProp(unlockBtn, "hidden", !s.blocked);
      const m = memberOf(s);
      const line = statusLine({ kernel: s.kernel, message: s.kernelMessage, mode: s.mode, terminal: s.terminal,
                                queued: !playing && (m.pending() || s.autoplay) && queue.waiting(m), due: due(s) });
      setText(status, line.text);
      setData(status, "status", line.status);
      setData(root, "status", line.status);
      setData(root, "mode", s.blocked ? "blocked" : s.mode);
      const label = String(s.model.get("endpoint_label") || "");
      if (endpoint.textContent !== label) { endpoint.textContent = label; endpoint.title = label ? `Speaking through ${label}` : ""; }
      setProp(endpoint, "hidden", !label);
      setText(meter, readout(s.model.get("metrics") || {}));
      const kernelIdle = s.kernel === "done" || s.kernel === "error" || s.kernel === "idle";
      setProp(again, "disabled", !kernelIdle || s.kernelGone);
      setProp(wav, "disabled", !s.chunks.length);
      setProp(vtt, "disabled", !s.model.get("captions")); // the kernel's captions come when the speech is complete
      setProp(vtt, "title", vtt.disabled ? "Captions (WebVTT): ready when the speech is complete" : "Download the captions (WebVTT)");
    },
    /** The position shown by keyboard seeks. */
    now: () => mediaTime(s),
  };
}
