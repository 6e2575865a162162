import assert from "node:assert/strict";
import { test } from "node:test";
import { statusLine } from "../src/format.js";
import { memberOf } from "../src/playback.js";
import { join, register } from "../src/queue.js";
import { createPlayer } from "../src/state.js";
import { kernelLost, onMessage } from "../src/stream.js";

/** The part of anywidget's model the player reads, over fixed state. */
const model = (state) => ({ get: (k) => state[k], on() {}, off() {}, send() {} });

/** A player that has received one second of audio (no Web Audio in node: the chunk has no AudioBuffer). */
function streamingPlayer(id, queueId) {
  const s = createPlayer(id, model({ player_id: id, queue_id: queueId }), false);
  memberOf(s);
  onMessage(s, { type: "begin", text: "Hello there, this is long.", lanes: [] });
  onMessage(s, { type: "status", status: "streaming", message: "" });
  onMessage(s, { type: "chunk", lane: "speech", at_ms: 0, sample_rate: 1000, aligned_chars: 5, grow: null,
                 words: [{ text: "Hello", start_ms: 0, end_ms: 600 }] }, [new DataView(new Int16Array(1000).buffer)]);
  return s;
}

const line = (s) => statusLine({ kernel: s.kernel, message: s.kernelMessage, mode: s.mode, terminal: s.terminal,
                                 queued: false });

test("a kernel that dies mid-speech: the player stops waiting for audio, says so, and lets the next kernel's cell play", () => {
  const s = streamingPlayer("dying", "kernel-1");
  s.mode = "waiting"; // it played all it had and waits for audio the dead kernel will never send
  s.anchorMedia = s.contiguousEnd;
  assert.equal(line(s).text, "buffering…");
  const log = [];
  const next = { id: "next", queueId: "kernel-2", seq: 0, audible: () => false, pending: () => !log.length,
                 wants: () => !log.length, play: () => log.push("next plays"), silence: () => {} };
  register(next);
  join(next, false);
  assert.deepEqual(log, []); // nothing plays over a player that waits for audio
  kernelLost(s);
  assert.equal(s.streamDone, true);
  assert.equal(s.mode, "ended");
  assert.equal(memberOf(s).pending(), false);
  assert.deepEqual(log, ["next plays"]);
  assert.deepEqual(statusLine({ kernel: s.kernel, message: "", mode: s.mode, terminal: "", queued: false }),
                   { status: "incomplete", text: "kernel stopped: speech incomplete" });
  kernelLost(s); // JupyterLab says it twice on a restart
  assert.equal(s.mode, "ended");
});

test("a complete speech is left alone when its kernel goes away", () => {
  const s = streamingPlayer("complete", "kernel-3");
  onMessage(s, { type: "status", status: "done", message: "" });
  kernelLost(s);
  assert.equal(s.kernel, "done");
  assert.equal(s.kernelGone, true); // its "Speak again" is disabled: no kernel would hear it
});
