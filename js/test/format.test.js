import assert from "node:assert/strict";
import { test } from "node:test";
import { CLOCK_STEP_MS, axisTicks, clock, nextStep, readout, statusLine } from "../src/format.js";

test("clock and readout", () => {
  assert.equal(clock(0), "0:00.0");
  assert.equal(clock(83_450), "1:23.5");
  assert.equal(readout({ ttfa_ms: 118.4, rtf: 0.25, audio_ms: 3200 }), "first audio 118 ms · RTF 0.25 (×4 real time) · 3.2 s audio");
  assert.equal(readout({ rtf: 0.0014 }), "RTF 0.0014 (×710 real time)"); // espeak: never "0.00"
  assert.equal(readout({ rtf: 1.7 }), "RTF 1.7");
  assert.equal(readout({}), "");
});

test("the clock rolls over to the next minute whole", () => {
  assert.equal(clock(59_940), "0:59.9");
  assert.equal(clock(59_960), "1:00.0");
  assert.equal(clock(119_999), "2:00.0");
});

test("nextStep is the first time the clock shows something else", () => {
  for (const t of [0, 49.9, 50, 1234.5, 59_949, 59_950, 3_600_000]) {
    const next = nextStep(t, CLOCK_STEP_MS);
    assert.ok(next > t, `${t} -> ${next}`);
    assert.equal(clock(next - 0.01), clock(t), `unchanged just before ${next}`);
    assert.notEqual(clock(next), clock(t), `changed at ${next}`);
  }
  assert.equal(nextStep(0.3, 0.25), 0.375); // any step: a playhead's half pixel
});

test("every tick of the axis is labelled, the end's too", () => {
  const ticks = axisTicks(7744, 800);
  const end = ticks[ticks.length - 1];
  assert.deepEqual([end.x, end.label, end.align], [799.5, "0:07.7", "right"]);
  assert.deepEqual(ticks.slice(0, 3).map((t) => t.label), ["0:00", "0:01", "0:02"]);
  for (let i = 1; i < ticks.length; i++) assert.ok(ticks[i].x - ticks[i - 1].x >= 30, "labels do not collide");
  assert.deepEqual(axisTicks(2400, 300).map((t) => t.label), ["0.0", "0.5", "1.0", "1.5", "0:02.4"]);
  assert.deepEqual(axisTicks(0, 800), []);
});

const base = { kernel: "streaming", message: "", mode: "idle", terminal: "", queued: false };

test("the status line: the kernel's word and the browser's playback", () => {
  const line = (p) => statusLine({ ...base, ...p });
  assert.equal(line({ kernel: "idle" }).text, "ready");
  assert.equal(line({ kernel: "connecting", queued: true }).text, "queued");
  assert.equal(line({ kernel: "connecting" }).text, "connecting…");
  assert.equal(line({ mode: "playing" }).text, "streaming");
  assert.deepEqual(line({ mode: "waiting" }), { status: "streaming", text: "buffering…" });
  assert.equal(line({ kernel: "done", mode: "playing" }).text, "playing"); // all received, still playing
  assert.equal(line({ kernel: "done", mode: "waiting" }).text, "playing");
  assert.equal(line({ kernel: "done", mode: "ended" }).text, "done");
  // all received but not yet heard: it is about to play, not done (a reopened output, not due, is done)
  assert.deepEqual(line({ kernel: "done", due: true }), { status: "queued", text: "queued" });
  assert.equal(line({ kernel: "done", due: false }).text, "done");
  assert.equal(line({ kernel: "streaming", due: true }).text, "streaming");
  assert.equal(line({ kernel: "done", mode: "paused" }).text, "paused");
  assert.equal(line({ mode: "paused", terminal: "interrupted" }).text, "interrupted");
  assert.equal(line({ kernel: "done", mode: "paused", terminal: "stopped" }).text, "stopped");
  assert.equal(line({ kernel: "error", message: "voice_not_found: x", mode: "playing" }).text, "error: voice_not_found: x");
  assert.equal(line({ kernel: "error" }).text, "error: unknown error");
  // the kernel's note with a finished stream (a voice that could read none of the text) stays in view
  assert.equal(line({ kernel: "done", mode: "ended", message: "silent: x" }).text, "done: silent: x");
  assert.equal(line({ kernel: "done", mode: "paused", terminal: "interrupted", message: "interrupted" }).text, "interrupted");
});

test("the status line of a player whose kernel died mid-speech", () => {
  const line = (p) => statusLine({ ...base, kernel: "lost", ...p });
  assert.deepEqual(line({ mode: "playing" }), { status: "playing", text: "playing · kernel stopped: speech incomplete" });
  assert.equal(line({ mode: "waiting" }).status, "playing");
  assert.deepEqual(line({ mode: "ended" }), { status: "incomplete", text: "kernel stopped: speech incomplete" });
  assert.deepEqual(line({}), { status: "incomplete", text: "kernel stopped: speech incomplete" }); // nothing arrived
  assert.equal(line({ mode: "paused" }).text, "paused · kernel stopped: speech incomplete");
  assert.equal(line({ mode: "paused", terminal: "stopped" }).text, "stopped · kernel stopped: speech incomplete");
  assert.equal(line({ queued: true }).text, "queued · kernel stopped: speech incomplete"); // what arrived waits its turn
});
