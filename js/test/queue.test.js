import assert from "node:assert/strict";
import { test } from "node:test";
import { handStart, idleFor, join, pump, register, unregister, waiting } from "../src/queue.js";

/** A member whose playback is a flag, and a log of what happened to it. */
function member(id, queueId, log, { audio = true } = {}) {
  const m = {
    id, queueId, seq: 0, state: "idle", audio, finished: false,
    audible: () => m.state === "playing",
    pending: () => m.seq > 0 && !m.finished && m.state !== "interrupted",
    wants: () => m.audio && (m.state === "idle" || m.state === "held"),
    play: () => { m.state = "playing"; log.push(`${id} plays`); },
    silence: (reason) => { m.state = reason === "paused" ? "held" : reason; log.push(`${id} ${reason}`); },
    end: (page) => { m.state = "ended"; m.finished = true; pump(page); },
  };
  return m;
}

const newPage = () => ({ members: new Map(), seq: 0 });

/** Utterances begin, in this order (a widget registers when created; none here is loose). */
function begin(page, members, interrupt = false) {
  for (const m of members) { register(m, page); join(m, interrupt, page); }
}

test("players of one kernel play one after another, in the order they began", () => {
  const page = newPage(), log = [];
  const a = member("a", "k", log), b = member("b", "k", log), c = member("c", "k", log);
  begin(page, [a, b, c]);
  assert.deepEqual(log, ["a plays"]);
  assert.equal(waiting(b, page), true);
  a.end(page);
  assert.deepEqual(log, ["a plays", "b plays"]);
  b.silence("stopped"); b.finished = true; pump(page); // ■ moves the queue on
  assert.deepEqual(log.at(-1), "c plays");
});

test("an interrupt silences every other player of its kernel, and only of its kernel", () => {
  const page = newPage(), log = [];
  const a = member("a", "k", log), b = member("b", "k", log), other = member("x", "k2", log), c = member("c", "k", log);
  begin(page, [a, b, other]);
  begin(page, [c], true);
  // c plays at once, before the other kernel's player that was waiting for a
  assert.deepEqual(log, ["a plays", "a interrupted", "b interrupted", "c plays"]);
  assert.equal(other.state, "idle");
  c.end(page);
  assert.equal(log.at(-1), "x plays");
});

test("a restarted kernel's first cell silences what its dead predecessor still had to play", () => {
  const page = newPage(), log = [];
  const dead = member("dead", "k-old", log), other = member("x", "k2", log), fresh = member("new", "k-new", log);
  begin(page, [dead, other]);
  dead.orphaned = () => true; // its kernel restarted, with minutes of audio still to play
  begin(page, [fresh]);
  assert.deepEqual(log, ["dead plays", "dead interrupted", "x plays"]); // the queue moves on at once
  other.end(page);
  assert.equal(log.at(-1), "new plays");
});

test("a player started by hand plays now and holds the others; they resume when it ends", () => {
  const page = newPage(), log = [];
  const a = member("a", "k", log), b = member("b", "k", log), old = member("old", "k", log);
  begin(page, [a, b]);
  register(old, page); // an earlier output, never begun in this session
  handStart(old, page);
  assert.deepEqual(log, ["a plays", "a paused", "old plays"]);
  old.state = "ended"; pump(page);
  assert.equal(log.at(-1), "a plays");
  unregister(a, page); // a widget that goes away lets the queue move on
  assert.equal(log.at(-1), "b plays");
});

test("a player with no audio yet holds its place without blocking the page", () => {
  const page = newPage(), log = [];
  const a = member("a", "k", log, { audio: false }), b = member("b", "k", log);
  begin(page, [a, b]);
  assert.deepEqual(log, []); // b waits for a, which has nothing to play yet
  a.audio = true; pump(page);
  assert.deepEqual(log, ["a plays"]);
});

test("a player is idle-for (would play at once) only with nothing audible and nothing of its queue owed before it", () => {
  const page = newPage(), log = [];
  const spare = member("spare", "k", log, { audio: false });
  register(spare, page);
  assert.equal(idleFor(spare, page), true);
  const a = member("a", "k", log, { audio: false }); // began, no audio yet: it owes playback first
  begin(page, [a]);
  assert.equal(idleFor(spare, page), false);
  const other = member("other", "k2", log, { audio: false }); // another kernel's, not audible: no matter
  begin(page, [other]);
  a.finished = true;
  assert.equal(idleFor(spare, page), true);
  other.audio = true;
  pump(page); // it plays now: audible
  assert.equal(idleFor(spare, page), false);
  assert.equal(idleFor(other, page), true); // its own playing does not count
});

test("every change of the queue lets its members settle (arm or drop what depends on it)", () => {
  const page = newPage(), log = [];
  const a = member("a", "k", log), settled = [];
  a.settle = () => settled.push("a");
  register(a, page);
  pump(page);
  handStart(a, page);
  assert.deepEqual(settled, ["a", "a"]);
});
