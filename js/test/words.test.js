import assert from "node:assert/strict";
import { test } from "node:test";
import { addWords, alignedEnd, estimateTotal, growWord, nonSpaceCount, pendingTail, wordAt, wordList } from "../src/words.js";

const w = (text, start, end, lane = "a") => ({ lane, text, start, end });

test("words keep arrival order and time order; lookup finds the word that has started", () => {
  const list = wordList();
  assert.equal(addWords(list, [w("one", 0, 100), w("two", 150, 300)]).outOfOrder, false);
  const { words, outOfOrder } = addWords(list, [w("zero", -200, -50, "b")]); // earlier on the timeline
  assert.equal(outOfOrder, true);
  assert.deepEqual(words.map((x) => x.index), [2]);
  assert.deepEqual(list.order.map((x) => x.text), ["zero", "one", "two"]);
  assert.deepEqual(list.words.map((x) => x.text), ["one", "two", "zero"]);
  assert.equal(wordAt(list.order, -500), -1);
  assert.equal(wordAt(list.order, -200), 0);
  assert.equal(wordAt(list.order, 120), 1); // in the gap: the last word that started
  assert.equal(wordAt(list.order, 150), 2);
  assert.equal(wordAt(list.order, 1e9), 2);
});

test("a word a later chunk continues grows in place", () => {
  const list = wordList();
  addWords(list, [w("spo", 0, 100)]);
  const grown = growWord(list, 0, "spoken,", 260);
  assert.equal(grown, list.words[0]);
  assert.deepEqual([grown.text, grown.end], ["spoken,", 260]);
  assert.equal(growWord(list, 7, "x", 1), null);
});

test("every change to the words moves the version a drawing of them depends on", () => {
  const list = wordList();
  const seen = [list.version];
  addWords(list, [w("one", 0, 100), w("two", 150, 300)]);
  seen.push(list.version);
  growWord(list, 0, "one,", 120); // not the last word: a drawing keyed on the last word would miss it
  seen.push(list.version);
  addWords(list, []);
  assert.equal(list.version, seen[2]); // nothing added, nothing to redraw
  assert.equal(new Set(seen).size, 3);
});

test("the text not yet aligned follows the aligned characters", () => {
  const text = "Hello there, big  world.";
  const tail = (aligned, max = 600, after = true) => pendingTail(text, alignedEnd(text, aligned).index, max, after);
  assert.equal(tail(0, 600, false), "Hello there, big world.");
  assert.equal(tail(5), " there, big world.");
  assert.equal(tail(7), "ere, big world."); // inside a word: no space added
  assert.equal(tail(nonSpaceCount(text)), "");
  assert.equal(tail(0, 5, false), "Hello …");
  assert.equal(pendingTail("a".repeat(5000), 0, 600, false), `${"a".repeat(600)} …`);
});

test("a growing text is scanned from where the last scan ended", () => {
  let hint = alignedEnd("Hello there", 5);
  assert.deepEqual([hint.index, hint.aligned], [5, 5]);
  hint = alignedEnd("Hello there, you", 9, hint);
  assert.equal(hint.index, 10);
  assert.equal(alignedEnd("Goodbye there, you", 9, hint).index, 10); // not a prefix: scanned afresh
  assert.equal(alignedEnd("Hello", 3, alignedEnd("Hello", 5)).index, 3); // fewer aligned: afresh
});

test("the timeline's estimated length while streaming", () => {
  assert.equal(estimateTotal(1000, 10, 40), 4000);
  assert.equal(estimateTotal(1000, 0, 40), 1000);
  assert.equal(estimateTotal(0, 0, 0), 1);
});
