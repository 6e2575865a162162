// The early path's pure parts: reading Jupyter's v1 kernel frames, the resampler the worklet needs, and the
// worklet's answers to the page's claim (its processor run in a stand-in of the AudioWorklet scope).
import assert from "node:assert/strict";
import { test } from "node:test";
import { resample, splitKernelFrame, workletMain } from "../src/early_code.js";

/** A v1 frame as jupyter_server builds it: count, offsets (channel start, then each part's end), parts. */
function frame(channel, parts) {
  const enc = new TextEncoder();
  const bytes = [enc.encode(channel), ...parts.map((p) => (typeof p === "string" ? enc.encode(p) : p))];
  const offsets = [8 * (1 + 1 + parts.length + 1)];
  for (const b of bytes) offsets.push(offsets[offsets.length - 1] + b.length);
  const out = new Uint8Array(offsets[offsets.length - 1]);
  const view = new DataView(out.buffer);
  view.setUint32(0, offsets.length, true);
  offsets.forEach((o, i) => view.setUint32(8 * (i + 1), o, true));
  let at = offsets[0];
  for (const b of bytes) { out.set(b, at); at += b.length; }
  return out.buffer;
}

test("a v1 frame gives its channel and the span of each part, buffers included", () => {
  const pcm = new Uint8Array([1, 0, 2, 0]);
  const data = frame("iopub", ['{"msg_type":"comm_msg"}', "{}", "{}", '{"comm_id":"c"}', pcm]);
  const got = splitKernelFrame(data);
  assert.equal(got.channel, "iopub");
  const o = got.offsets;
  assert.equal(new TextDecoder().decode(new Uint8Array(data, o[1], o[2] - o[1])), '{"msg_type":"comm_msg"}');
  assert.deepEqual([...new Uint8Array(data, o[5], o[6] - o[5])], [1, 0, 2, 0]);
  assert.equal(splitKernelFrame(frame("shell", ["{}", "{}", "{}", "{}"])).channel, "shell"); // no buffers
});

test("malformed frames are refused, not read out of bounds", () => {
  assert.equal(splitKernelFrame(new ArrayBuffer(4)), null);
  const data = frame("iopub", ["{}", "{}", "{}", "{}"]);
  new DataView(data).setUint32(16, 1 << 30, true); // an offset past the end
  assert.equal(splitKernelFrame(data), null);
  const huge = new ArrayBuffer(16);
  new DataView(huge).setUint32(0, 1000, true); // more offsets than bytes
  assert.equal(splitKernelFrame(huge), null);
});

test("resampling keeps a tone, its level and its length, and a head plus the rest is the whole", () => {
  const n = 4800, x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = 0.5 * Math.sin((2 * Math.PI * 440 * i) / 24000);
  const y = resample(x, 24000, 48000);
  assert.equal(y.length, 9600);
  let err = 0;
  for (let j = 100; j < y.length - 100; j++) err = Math.max(err, Math.abs(y[j] - 0.5 * Math.sin((2 * Math.PI * 440 * j) / 48000)));
  assert.ok(err < 1e-3, `max error ${err}`);
  const parts = [...resample(x, 24000, 48000, 0, 2048), ...resample(x, 24000, 48000, 2048)];
  assert.deepEqual(parts, [...y]);
  assert.equal(resample(x, 22050, 48000).length, Math.round(n * 48000 / 22050));
  assert.deepEqual([...resample(x, 48000, 48000, 10, 20)], [...x.subarray(10, 20)]);
});

test("downsampling filters out what the lower rate cannot carry", () => {
  const n = 9600, x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.sin((2 * Math.PI * 20000 * i) / 48000); // above 22050's Nyquist
  const y = resample(x, 48000, 22050);
  let peak = 0;
  for (let j = 200; j < y.length - 200; j++) peak = Math.max(peak, Math.abs(y[j]));
  assert.ok(peak < 0.05, `aliased peak ${peak}`);
});

/** The worklet's processor in a stand-in AudioWorkletGlobalScope: its port's posts, and a render quantum. */
function earlyVoice() {
  const scope = /** @type {any} */ (globalThis);
  let Processor = null;
  scope.AudioWorkletProcessor = class { constructor() { this.port = { posted: [], postMessage(m) { this.posted.push(m); } }; } };
  scope.registerProcessor = (_name, cls) => { Processor = cls; };
  scope.currentTime = 0;
  workletMain();
  const voice = new Processor();
  const send = (m) => voice.port.onmessage({ data: m });
  const render = () => { // one 128-frame quantum: whether it goes on, and what it played
    const out = new Float32Array(128);
    const alive = voice.process([], [[out]]);
    scope.currentTime += 128 / 48000;
    return { alive, out };
  };
  return { voice, send, render, posted: voice.port.posted };
}

const piece = (value, n = 128) => new Float32Array(n).fill(value);

test("a claim before the worker's run started plays the page's head at once, and answers when it starts", () => {
  const { send, render, posted } = earlyVoice();
  send({ type: "audio", samples: piece(0.5), startMs: 0, endMs: 2.67 }); // the worker's copy, not yet rendered
  send({ type: "claim", samples: piece(0.25, 256), endMs: 5.33 });
  assert.deepEqual(posted, []); // no answer before it plays
  const first = render();
  assert.equal(first.out[0], 0.25); // the page's head, not the worker's copy
  assert.deepEqual(posted, [{ type: "claimed", startedAt: 0, coveredMs: 5.33, offered: true }]);
  send({ type: "audio", samples: piece(0.5), startMs: 5.33, endMs: 8 }); // late worker audio: refused
  assert.equal(render().out[127], 0.25);
  assert.deepEqual(posted.slice(1), [{ type: "ended" }]); // played out after the claim
  assert.equal(render().alive, false);
});

test("a claim after the worker's run started is answered at once, and the run goes on", () => {
  const { send, render, posted } = earlyVoice();
  send({ type: "audio", samples: piece(0.5, 256), startMs: 0, endMs: 5.33 });
  render();
  send({ type: "claim", samples: piece(0.25, 256), endMs: 5.33 });
  assert.deepEqual(posted, [{ type: "claimed", startedAt: 0, coveredMs: 5.33, offered: false }]);
  assert.equal(render().out[0], 0.5); // the worker's run, not the page's head
  assert.deepEqual(posted.slice(1), [{ type: "ended" }]);
});

test("a claim with nothing to play answers that the worklet never played, and it stops", () => {
  const { send, render, posted } = earlyVoice();
  send({ type: "claim" });
  assert.deepEqual(posted, [{ type: "claimed", startedAt: null, coveredMs: 0, offered: false }]);
  send({ type: "audio", samples: piece(0.5), startMs: 0, endMs: 2.67 });
  assert.equal(render().alive, false);
});

test("a claim cancelled before its head started never plays; one that started plays on", () => {
  const late = earlyVoice();
  late.send({ type: "claim", samples: piece(0.25, 256), endMs: 5.33 });
  late.send({ type: "cancel" }); // the page heard nothing in time
  assert.deepEqual(late.posted, [{ type: "claimed", startedAt: null, coveredMs: 5.33, offered: true }]);
  assert.equal(late.render().alive, false);
  const started = earlyVoice();
  started.send({ type: "claim", samples: piece(0.25, 256), endMs: 5.33 });
  started.render(); // the head started, and its answer went out before the cancel came
  started.send({ type: "cancel" });
  assert.deepEqual(started.posted, [{ type: "claimed", startedAt: 0, coveredMs: 5.33, offered: true }]);
  assert.equal(started.render().out[0], 0.25); // not cut: a cut head would be heard twice
});
