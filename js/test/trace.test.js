import assert from "node:assert/strict";
import { test } from "node:test";
import { markStage, traceTable, wallNow } from "../src/trace.js";

test("a stage keeps its first time, and only with debugging on", () => {
  const on = { on: true, trace: {} }, off = { on: false, trace: {} };
  markStage(on, "a", 10);
  markStage(on, "a", 20);
  markStage(off, "a", 10);
  assert.deepEqual(on.trace, { a: 10 });
  assert.deepEqual(off.trace, {});
  const before = Date.now();
  markStage(on, "now");
  assert.ok(Math.abs(on.trace.now - before) < 1000, "the wall clock, not page time");
  assert.ok(Math.abs(wallNow() - Date.now()) < 1000);
});

test("the table is in time order with steps", () => {
  const table = traceTable({ "browser: first source start": 1041.5, "kernel: magic parsed": 1000, "x": NaN, "b": 1010 });
  assert.deepEqual(table.split("\n"), [
    "kernel: magic parsed              0.0 ms      0.0 ms",
    "b                                10.0 ms     10.0 ms",
    "browser: first source start      41.5 ms     31.5 ms",
  ]);
  assert.equal(traceTable({}), "");
});
