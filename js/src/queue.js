// @ts-check
// One playback order per kernel, kept on the page. Every player joins its kernel's queue (its queue_id)
// when an utterance begins; the first one that still owes playback is the head, and only the head plays
// by itself, and only while nothing else on the page is audible. The state lives on globalThis, because
// anywidget may evaluate one copy of this module per widget; members bring their own methods.

/**
 * @typedef {Object} Member
 * @property {string} id
 * @property {string} queueId
 * @property {number} seq            begin order on the page; 0 = never began (plays on its own)
 * @property {boolean} [urgent]      began with an interrupt: goes before other kernels' waiting players
 * @property {() => boolean} audible  playing, or waiting for late audio
 * @property {() => boolean} pending  began and has not finished playing (nor been stopped/interrupted)
 * @property {() => boolean} wants    would play now if it were its turn
 * @property {() => void} play
 * @property {(reason: "interrupted" | "paused") => void} silence
 * @property {() => void} [settle]    the queue changed: prepare (or drop) whatever depends on it
 * @property {() => boolean} [orphaned] its kernel died or restarted: nothing it plays was asked for since
 */

/** @typedef {{members: Map<string, Member>, seq: number}} Page */

/** @returns {Page} */
export function page() {
  const g = /** @type {any} */ (globalThis);
  return (g.__elevenNbQueues = g.__elevenNbQueues || { members: new Map(), seq: 0 });
}

/** @param {Member} m @param {Page} [p] */
export function register(m, p = page()) {
  p.members.set(m.id, m);
}

/** @param {Member} m @param {Page} [p] */
export function unregister(m, p = page()) {
  if (p.members.get(m.id) === m) p.members.delete(m.id);
  pump(p);
}

/**
 * An utterance begins: the member goes to the end of its queue. With `interrupt`, every other member
 * of the queue is silenced first, so this one plays at once. So is a player whose kernel has died or
 * restarted: what it still has to play (minutes, for a long cell) must not hold up the new kernel's cells.
 * @param {Member} m
 * @param {boolean} interrupt
 * @param {Page} [p]
 */
export function join(m, interrupt, p = page()) {
  m.seq = ++p.seq;
  m.urgent = interrupt;
  for (const x of p.members.values()) {
    if (x === m || !(x.pending() || x.audible())) continue;
    if ((interrupt && x.queueId === m.queueId) || x.orphaned?.()) x.silence("interrupted");
  }
  pump(p);
}

/** @param {Member} m @param {Page} p */
function othersAudible(m, p) {
  for (const x of p.members.values()) if (x !== m && x.audible()) return true;
  return false;
}

/**
 * Whether `m` waits for another player: an earlier one of its queue still owes playback, or another
 * player is audible.
 * @param {Member} m
 * @param {Page} [p]
 */
export function waiting(m, p = page()) {
  if (othersAudible(m, p)) return true;
  if (!m.seq) return false;
  for (const x of p.members.values()) {
    if (x !== m && x.queueId === m.queueId && x.seq && x.seq < m.seq && x.pending()) return true;
  }
  return false;
}

/**
 * Start whoever's turn it is: per queue the head, and players outside any queue, while nothing plays.
 * Called whenever a player gets audio, ends, stops, pauses or leaves.
 * @param {Page} [p]
 */
export function pump(p = page()) {
  /** @type {Map<string, Member>} */
  const heads = new Map();
  /** @type {Member[]} */
  const loose = [];
  for (const m of p.members.values()) {
    if (!m.seq) { loose.push(m); continue; }
    if (!m.pending()) continue;
    const h = heads.get(m.queueId);
    if (!h || m.seq < h.seq) heads.set(m.queueId, m);
  }
  const order = [...heads.values()].sort((a, b) => Number(!!b.urgent) - Number(!!a.urgent) || a.seq - b.seq);
  for (const m of [...order, ...loose]) {
    if (m.wants() && !othersAudible(m, p)) { m.urgent = false; m.play(); }
  }
  settle(p);
}

/** @param {Page} p */
function settle(p) {
  for (const m of p.members.values()) m.settle?.();
}

/**
 * Whether `m`'s audio would play the moment it came: no other player is audible, and none of its queue
 * began before it and still owes playback.
 * @param {Member} m
 * @param {Page} [p]
 */
export function idleFor(m, p = page()) {
  for (const x of p.members.values()) {
    if (x === m) continue;
    if (x.audible() || (x.queueId === m.queueId && x.seq && (!m.seq || x.seq < m.seq) && x.pending())) return false;
  }
  return true;
}

/**
 * The user started `m` (▶, a word, the timeline, Speak again): it plays now and the others pause.
 * @param {Member} m
 * @param {Page} [p]
 */
export function handStart(m, p = page()) {
  for (const x of p.members.values()) if (x !== m && x.audible()) x.silence("paused");
  m.play();
  settle(p);
}
