import assert from "node:assert/strict";
import { test } from "node:test";
import { appendEnds, audioEnds, mediaTime, rawTime } from "../src/clock.js";

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
  assert.deepEqual(audioEnds(chunks, false), { buffered: 1200, gapless: 602, contiguous: 602 });
  assert.deepEqual(audioEnds(chunks, true), { buffered: 1200, gapless: 602, contiguous: 1200 });
  assert.deepEqual(audioEnds([], false), { buffered: 0, gapless: 0, contiguous: 0 });
});

test("appending a chunk gives the ends a walk of the whole list gives, holes and overlaps included", () => {
  let seed = 7;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let run = 0; run < 50; run++) {
    const chunks = [{ at: Math.floor(random() * 50), dur: 100 }];
    let ends = audioEnds(chunks, false);
    for (let k = 0; k < 40; k++) {
      const last = chunks[chunks.length - 1];
      // mostly contiguous, sometimes a hole, sometimes overlapping the last chunk
      const at = last.at + (random() < 0.7 ? last.dur + random() * 4 : random() < 0.5 ? last.dur + 10 + random() * 200 : random() * last.dur);
      const c = { at, dur: 1 + random() * 300 };
      chunks.push(c);
      const done = random() < 0.2;
      ends = appendEnds(ends, c, done);
      assert.deepEqual(ends, audioEnds(chunks, done), `run ${run}, chunk ${k}`);
    }
  }
});
