// @ts-check
// Audio scheduling: each chunk becomes an AudioBufferSourceNode started at its place on the AudioContext
// clock, so consecutive chunks play gaplessly. Play, pause, seek and stop, by the user or by the queue.
import { mediaTime, rawTime } from "./clock.js";
import { audioContext, onContextState } from "./context.js";
import * as early from "./early.js";
import { checkEnd, highlight, onEnded, refresh, stopFrames, wake } from "./loop.js";
import * as queue from "./queue.js";
import { markStage, wallNow } from "./trace.js";

/** @typedef {import("./state.js").Player} Player */
/** @typedef {import("./state.js").Chunk} Chunk */

// Schedule the first chunk a little ahead of the clock so its start is not late (which would push it into
// the next chunk): one render quantum (3 ms) and the audio callback period (about 10 ms) are enough.
// Measured: 30 ms of lead was 30 ms added to every first audio.
const LEAD_S = 0.012;
const BLOCKED_AFTER_MS = 300; // a context still suspended this long after play() was blocked

/** @param {Player} s */
export function ensureAudio(s) {
  const ctx = audioContext();
  if (s.ctx !== ctx) {
    s.ctx = ctx;
    s.out = ctx.createGain();
    s.out.connect(ctx.destination);
  }
  return ctx;
}

/** @param {Player} s */
export function audible(s) {
  return s.mode === "playing" || s.mode === "waiting";
}

/**
 * Whether `s` has audio that plays by itself when its turn comes (or once the worklet answers the claim on
 * its first chunk), and has not started: a finished stream is not "done" before it has been heard.
 * @param {Player} s
 */
export function due(s) {
  return s.mode === "idle" && (memberOf(s).wants() || (early.claiming(s) && !s.userPaused && !s.terminal));
}

/**
 * Stop every source of `s`, and its early voice unless `keepArmed` and it has not been claimed (a `begin`
 * is the utterance an armed early voice waits for).
 * @param {Player} s @param {boolean} [keepArmed]
 */
export function stopSources(s, keepArmed = false) {
  const covered = early.coveredMs(s);
  if (covered && s.debug.early && s.ctx) s.debug.early.end = Math.min(s.debug.early.end, Math.max(s.debug.early.begin, s.ctx.currentTime));
  if (!(keepArmed && early.armed(s))) early.disarm(s);
  for (const src of s.sources) {
    try { src.onended = null; src.stop(); } catch (_) { /* never started or already stopped */ }
  }
  s.sources.clear();
}

/** @param {Player} s @param {Chunk} c */
export function schedule(s, c) {
  // where on the timeline this source starts: not before the anchor, nor inside the early voice's run
  const from = Math.max(s.anchorMedia, early.coveredMs(s), c.at);
  const offset = from - c.at; // ms into the chunk
  if (offset >= c.dur - 0.01 || !c.buffer || !s.ctx || !s.out) return;
  const src = s.ctx.createBufferSource();
  src.buffer = c.buffer;
  src.connect(s.out);
  const when = s.anchorCtx + (from - s.anchorMedia) / 1000;
  src.start(when, offset / 1000);
  if (s.debug.on && !early.coveredMs(s) && !("browser: first source start" in s.debug.trace)) {
    const at = wallNow();
    markStage(s.debug, "browser: first source start", at);
    markStage(s.debug, "browser: first audio due (scheduled time)", at + (when - s.ctx.currentTime) * 1000);
  }
  src.onended = () => {
    s.sources.delete(src);
    if (!s.sources.size) checkEnd(s); // the end is noticed even with no view drawing frames
  };
  s.sources.add(src);
  const now = performance.now();
  if (s.debug.firstScheduledAt === null) s.debug.firstScheduledAt = now;
  if (c.log && c.log.scheduledAt === null) c.log.scheduledAt = now;
}

/** @param {Player} s @param {number} ms */
export function startFrom(s, ms) {
  const ctx = ensureAudio(s);
  stopSources(s);
  s.anchorMedia = Math.max(0, Math.min(ms, s.contiguousEnd));
  s.anchorCtx = ctx.currentTime + LEAD_S;
  s.mode = "playing";
  s.userPaused = false;
  for (const c of s.chunks) schedule(s, c);
  if (ctx.state !== "running") watchBlocked(s);
  wake(s);
  refresh(s);
}

/**
 * The early voice played the timeline's [0, coveredMs) from context time `t0`: the player's clock follows
 * it, and the sources continue where its run ends. If the run has played out (or nearly) by now, the
 * clock waits at its end, as for a late chunk.
 * @param {Player} s @param {number} t0 @param {number} coveredMs
 */
export function adoptEarly(s, t0, coveredMs) {
  const ctx = ensureAudio(s);
  if (t0 + coveredMs / 1000 > ctx.currentTime + LEAD_S) {
    s.anchorMedia = 0;
    s.anchorCtx = t0;
  } else {
    s.anchorMedia = coveredMs;
    s.anchorCtx = ctx.currentTime + LEAD_S;
  }
  s.mode = "playing";
  s.autoplay = true;
  s.userPaused = false;
  if (s.debug.on) {
    s.debug.early = { begin: t0, end: t0 + coveredMs / 1000 };
    markStage(s.debug, "browser: first audio started (worklet, context clock)", early.contextToWall(ctx, t0));
    if (s.debug.firstScheduledAt === null) s.debug.firstScheduledAt = early.handedOverAt(s, ctx, t0) - performance.timeOrigin;
  }
  for (const c of s.chunks) schedule(s, c);
  wake(s);
  refresh(s);
}

/**
 * Whether `s` would play its next audio at once: a live player with no audio yet (a finished or failed one
 * shown again has its say already), and nothing else on the page owes or plays audio.
 * @param {Player} s
 */
export function wouldPlayAtOnce(s) {
  return !s.kernelGone && !s.chunks.length && (s.kernel === "idle" || s.kernel === "connecting")
    && !s.terminal && !s.userPaused && queue.idleFor(memberOf(s));
}

/** Arm `s`'s early voice when it would play at once, disarm an unclaimed one when not. @param {Player} s */
export function settleEarly(s) {
  if (wouldPlayAtOnce(s)) {
    if (early.armed(s) || early.claiming(s) || !early.possible(s)) return;
    try { ensureAudio(s); } catch (_) { return; } // no Web Audio here
    early.arm(s);
  } else if (early.armed(s)) early.disarm(s);
}

/** A chunk arrived while playing (or waiting for it). @param {Player} s @param {Chunk} c @param {number} before contiguous end before it */
export function scheduleArrival(s, c, before) {
  if (s.mode === "playing") {
    // late (underrun): the clock ran past the audio we had; it waits, then resumes where audio ran out
    if (rawTime(s) > c.at + 1) startFrom(s, Math.min(rawTime(s), before));
    else schedule(s, c);
  } else if (s.mode === "waiting") startFrom(s, s.anchorMedia);
}

// The browser may refuse to start audio without a user gesture: say so, and start on a click.
/** @param {Player} s */
function watchBlocked(s) {
  const ctx = s.ctx;
  if (!ctx) return;
  ctx.resume().catch(() => {});
  clearTimeout(s.blockTimer);
  s.blockTimer = /** @type {any} */ (setTimeout(() => {
    if (ctx.state !== "running" && audible(s)) { s.blocked = true; refresh(s); }
  }, BLOCKED_AFTER_MS));
}

/** A click or key press is a user gesture: the moment to resume a blocked context. @param {Player} s */
export function unlock(s) {
  const ctx = ensureAudio(s);
  if (ctx.state !== "running") ctx.resume().then(() => { s.blocked = false; refresh(s); }, () => {});
}

/** @param {Player} s @param {boolean} byUser */
export function pause(s, byUser) {
  if (audible(s)) s.anchorMedia = mediaTime(s);
  if (s.mode !== "idle" || byUser) s.mode = "paused";
  if (byUser) { s.userPaused = true; s.autoplay = false; }
  stopSources(s);
  highlight(s, true);
  refresh(s);
}

/** @param {Player} s @param {number} ms */
export function seek(s, ms) {
  const target = Math.max(0, Math.min(ms, s.contiguousEnd));
  if (audible(s)) startFrom(s, target);
  else {
    s.anchorMedia = target;
    if (s.mode === "ended") s.mode = "paused";
  }
  highlight(s, true);
  refresh(s);
}

/** The user plays (from `ms`, else where it stands): now, pausing every other player. @param {Player} s @param {number} [ms] */
export function playByHand(s, ms) {
  unlock(s);
  if (!s.chunks.length) return;
  let from = ms ?? s.anchorMedia;
  if (ms === undefined && s.streamDone && from >= s.contiguousEnd - 1) from = 0; // played out: from the top
  s.terminal = "";
  s.autoplay = true;
  s.anchorMedia = Math.max(0, Math.min(from, s.contiguousEnd));
  if (s.mode === "ended") s.mode = "paused";
  queue.handStart(memberOf(s));
  highlight(s, true);
}

/** ▶/❚❚ and the space key. @param {Player} s */
export function togglePlay(s) {
  unlock(s);
  if (audible(s)) { pause(s, true); queue.pump(); } else playByHand(s);
}

/** ■: stop, back to the start, and let the queue move on. @param {Player} s */
export function stopByUser(s) {
  silence(s, "stopped");
  s.anchorMedia = 0;
  highlight(s, true);
  refresh(s);
  queue.pump();
}

/**
 * Silence without the user: an interrupt (final), or paused for a player the user started.
 * @param {Player} s
 * @param {"interrupted" | "stopped" | "paused"} reason
 */
export function silence(s, reason) {
  pause(s, false);
  if (reason === "paused") return;
  s.terminal = reason;
  s.autoplay = false;
  refresh(s);
}

/** @type {WeakMap<Player, queue.Member>} */
const members = new WeakMap();
/** @type {WeakMap<Player, () => void>} */
const unsubscribe = new WeakMap();

/** The player as its queue sees it. @param {Player} s @returns {queue.Member} */
export function memberOf(s) {
  let m = members.get(s);
  if (!m) {
    m = {
      id: s.id, queueId: s.queueId, seq: 0,
      audible: () => audible(s),
      pending: () => !!m?.seq && !s.terminal && s.mode !== "ended" && !(s.streamDone && !s.chunks.length),
      wants: () => s.autoplay && !s.userPaused && !s.terminal && s.chunks.length > 0
        && (s.mode === "idle" || s.mode === "paused") && s.anchorMedia < s.contiguousEnd - 1,
      play: () => { unlock(s); startFrom(s, s.anchorMedia); },
      silence: (reason) => silence(s, reason),
      settle: () => settleEarly(s),
      orphaned: () => s.kernelGone,
    };
    members.set(s, m);
    onEnded(s, () => queue.pump());
    unsubscribe.set(s, onContextState(() => {
      if (s.ctx && s.ctx.state === "running" && s.blocked) { s.blocked = false; refresh(s); }
    }));
    queue.register(m);
  }
  return m;
}

/** The widget is gone: silence it and leave the queue. @param {Player} s */
export function release(s) {
  stopSources(s);
  clearTimeout(s.blockTimer);
  stopFrames(s);
  unsubscribe.get(s)?.();
  const m = members.get(s);
  if (m) queue.unregister(m);
}
