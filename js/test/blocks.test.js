import assert from "node:assert/strict";
import { test } from "node:test";
import { wordRuns } from "../src/blocks.js";

const word = (start, end, lane = "a") => ({ lane, text: "w", start, end, index: 0 });
const lanes = { a: { row: 0, color: 0 }, b: { row: 1, color: 1 } };
const laneOf = (lane) => lanes[lane];

/** The pixels each run covers, per row and look: what the canvas shows, as sets of whole pixels. */
function painted(runs) {
  const px = new Map();
  for (const r of runs) {
    const key = `${r.row}/${r.color}/${r.solid}`;
    if (!px.has(key)) px.set(key, new Set());
    for (let x = Math.floor(r.x); x < Math.ceil(r.x + r.w); x++) px.get(key).add(x);
  }
  return px;
}

test("dense words become a run per look; the current word stays its own", () => {
  // 3,000 words of 0.4 s on 800 px (20 minutes): each word is under half a pixel
  const order = Array.from({ length: 3000 }, (_, i) => word(i * 0.4, i * 0.4 + 0.35));
  const scale = 800 / 1200;
  const runs = wordRuns(order, 1500, scale, laneOf);
  assert.deepEqual(runs.map((r) => [r.solid, r.current]), [[true, false], [true, true], [false, false]]);
  // what a rectangle per word painted (the timeline before runs)
  const one = order.map((w, p) => ({ row: 0, color: 0, solid: p <= 1500, x: w.start * scale,
                                     w: Math.max(1, (w.end - w.start) * scale - 1) }));
  assert.deepEqual(painted(runs), painted(one)); // the same pixels as a rectangle per word
});

test("words with a visible gap keep their own blocks", () => {
  const order = [word(0, 1), word(1.2, 2), word(2.1, 3)];
  const runs = wordRuns(order, -1, 10, laneOf); // 10 px a second: gaps of 3 and 2 px (blocks end 1 px short)
  assert.deepEqual(runs.map((r) => [r.x, r.w]), [[0, 9], [12, 7], [21, 8]]);
  assert.ok(runs.every((r) => !r.solid && !r.current));
});

test("lanes merge on their own rows; spoken and unspoken never share a run", () => {
  const order = [word(0, 0.1), word(0.05, 0.2, "b"), word(0.1, 0.2), word(0.2, 0.3, "b"), word(0.3, 0.4)];
  const runs = wordRuns(order, 2, 10, laneOf);
  assert.deepEqual(runs.map((r) => [r.row, r.solid, r.current]),
    [[0, true, false], [1, true, false], [0, true, true], [1, false, false], [0, false, false]]);
  assert.deepEqual(wordRuns([], -1, 10, laneOf), []);
});
