import assert from "node:assert/strict";
import { test } from "node:test";
import { audioEnds, mediaTime, rawTime } from "../src/clock.js";

test("the media clock follows the context clock, less the output latency, inside the audio", () => {
  const s = { mode: "playing", ctx: { currentTime: 10.5, outputLatency: 0.1 }, anchorMedia: 1000, anchorCtx: 10, contiguousEnd: 5000 };
  assert.equal(rawTime(s), 1500);
  assert.equal(Math.round(mediaTime(s)), 1400);
  s.ctx.currentTime = 20;
  assert.equal(mediaTime(s), 5000); // held at the end of what arrived
  s.mode = "paused";
  assert.equal(mediaTime(s), 1000);
});

test("contiguous and buffered ends; a hole counts only while streaming", () => {
  const chunks = [{ at: 0, dur: 300 }, { at: 302, dur: 300 }, { at: 1000, dur: 200 }];
  assert.deepEqual(audioEnds(chunks, false), { buffered: 1200, contiguous: 602 });
  assert.deepEqual(audioEnds(chunks, true), { buffered: 1200, contiguous: 1200 });
  assert.deepEqual(audioEnds([], false), { buffered: 0, contiguous: 0 });
});
