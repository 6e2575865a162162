// @ts-check
// What arrives from the kernel: an utterance begins, audio chunks with their words, text, status, stop.
// Also the rebuild of a reopened output from the synced state alone.
import { appendEnds, audioEnds } from "./clock.js";
import { makeBuffer } from "./context.js";
import { logChunk, logSound } from "./debug.js";
import { checkEnd, highlight, refresh, wake } from "./loop.js";
import { asDataView, int16ToFloat } from "./pcm.js";
import * as early from "./early.js";
import { adoptEarly, audible, memberOf, playByHand, scheduleArrival, silence, stopSources } from "./playback.js";
import * as queue from "./queue.js";
import { freshStream } from "./state.js";
import { markStage } from "./trace.js";
import { addWords, growWord, nonSpaceCount } from "./words.js";

/** @typedef {import("./state.js").Player} Player */
/** @typedef {import("./state.js").Chunk} Chunk */

/** @param {Player} s @param {{buffered: number, gapless: number, contiguous: number}} ends */
function setEnds(s, ends) {
  s.bufferedEnd = ends.buffered;
  s.gaplessEnd = ends.gapless;
  s.contiguousEnd = ends.contiguous;
}

/** @param {Player} s */
function recomputeEnds(s) {
  setEnds(s, audioEnds(s.chunks, s.streamDone));
}

/**
 * Received int16 bytes become floats in an AudioBuffer of their own: one allocation per chunk.
 * @param {string} lane @param {number} at @param {DataView} bytes @param {number} rate
 * @returns {Chunk}
 */
function makeChunk(lane, at, bytes, rate) {
  const n = bytes.byteLength >> 1;
  let buffer = null, samples;
  if (n && typeof AudioBuffer !== "undefined") {
    buffer = makeBuffer(n, rate);
    samples = int16ToFloat(bytes, buffer.getChannelData(0));
  } else samples = int16ToFloat(bytes);
  return { lane, at, rate, buffer, samples, dur: (n / rate) * 1000, log: null };
}

/** @param {Player} s @param {Chunk} c */
function insertChunk(s, c) {
  let i = s.chunks.length;
  while (i > 0 && s.chunks[i - 1].at > c.at) i--; // nearly always appended at the end
  s.chunks.splice(i, 0, c);
  if (i > 0 && i === s.chunks.length - 1) setEnds(s, appendEnds({ buffered: s.bufferedEnd, gapless: s.gaplessEnd }, c, s.streamDone));
  else recomputeEnds(s); // the first chunk, or one inside the list (it may fill a hole)
}

/** @param {Player} s @param {string} lane */
function seeLane(s, lane) {
  if (!s.seenLanes.includes(lane)) s.seenLanes.push(lane);
}

/** @param {Player} s @param {Omit<import("./words.js").Word, "index">[]} words */
function registerWords(s, words) {
  for (const w of words) seeLane(s, w.lane);
  const { words: made, outOfOrder } = addWords(s.list, words);
  for (const v of s.views) v.addWords(made);
  if (outOfOrder) { s.current = -1; for (const v of s.views) v.restyle(); highlight(s, true); }
}

/** @param {Player} s @param {any} msg @param {DataView} bytes */
function onChunk(s, msg, bytes) {
  markStage(s.debug, "browser: first chunk received");
  const lane = String(msg.lane ?? "speech");
  const at = +msg.at_ms || 0;
  seeLane(s, lane);
  const before = s.contiguousEnd;
  const c = makeChunk(lane, at, bytes, +msg.sample_rate || 22050);
  markStage(s.debug, "browser: first chunk in an AudioBuffer");
  c.log = logChunk(s.debug, at);
  logSound(s.debug, at, c.samples, c.rate);
  insertChunk(s, c);
  const grow = msg.grow;
  if (grow && typeof grow === "object") {
    const w = growWord(s.list, +grow.index, String(grow.text), +grow.end_ms);
    if (w) for (const v of s.views) v.growWord(w);
  }
  registerWords(s, (msg.words || []).map((/** @type {any} */ w) => ({ lane, text: String(w.text), start: +w.start_ms, end: +w.end_ms })));
  if (Number.isFinite(+msg.aligned_chars)) s.alignedChars = +msg.aligned_chars;
  if (c.buffer) {
    if (early.claiming(s)) { /* the worklet's answer decides how this chunk plays (claimed below) */ }
    else if (early.armed(s) && c.at === 0 && !audible(s)) {
      const stream = s.chunks; // a begin makes a new stream (and silences the worklet): then the answer is stale
      early.claim(s, () => checkEnd(s), { samples: c.samples, rate: c.rate }).then((run) => { if (s.chunks === stream) claimed(s, run); });
    }
    else if (audible(s)) scheduleArrival(s, c, before);
    else playWhenDue(s);
  }
  for (const v of s.views) v.setText();
  wake(s);
  refresh(s);
}

/** Audio arrived for a player that is not playing: a live stream plays when its turn comes. @param {Player} s */
function playWhenDue(s) {
  if (s.mode !== "idle" || s.userPaused || s.terminal) return;
  s.autoplay = true;
  if (s.wantsNow) { s.wantsNow = false; playByHand(s, 0); } else queue.pump();
}

/**
 * The worklet answered the claim on the first chunk: it started a run at context time `startedAt` (the
 * player follows it, if it may still play now), or never (the chunks play the usual way).
 * @param {Player} s @param {{startedAt: number, coveredMs: number} | null} run
 */
function claimed(s, run) {
  markStage(s.debug, run === null ? "browser: early voice had not started" : "browser: early voice claimed");
  if (run !== null) {
    if (s.mode === "idle" && !s.userPaused && !s.terminal && queue.idleFor(memberOf(s))) {
      adoptEarly(s, run.startedAt, run.coveredMs);
      queue.pump();
      return;
    }
    early.disarm(s); // started, but it may not play now after all (another player started meanwhile)
  }
  if (!audible(s)) playWhenDue(s);
}

/** No more audio will come (finished, or failed). @param {Player} s */
export function endStream(s) {
  if (s.streamDone) return;
  s.streamDone = true;
  recomputeEnds(s);
  if (s.mode === "waiting") s.mode = "playing"; // the clock was waiting for audio that will not come
  checkEnd(s);
  queue.pump(); // a finished player with no audio owes the queue nothing
}

/** A new utterance: reset, and take a place in the kernel's queue. @param {Player} s @param {any} msg */
function begin(s, msg) {
  stopSources(s, true);
  const wantsNow = s.wantsNow;
  const earlier = s.debug.trace; // stages before the first begin (view created) belong to this utterance
  Object.assign(s, freshStream(s.debug.on));
  if (!("browser: begin received" in earlier)) Object.assign(s.debug.trace, earlier);
  markStage(s.debug, "browser: begin received");
  s.wantsNow = wantsNow;
  s.kernel = "connecting";
  s.kernelMessage = "";
  if (typeof msg.text === "string") s.text = msg.text;
  if (Array.isArray(msg.lanes)) s.begunLanes = msg.lanes;
  for (const v of s.views) v.reset();
  queue.join(memberOf(s), !!msg.interrupt);
  for (const v of s.views) v.setText();
  refresh(s);
}

/**
 * @param {Player} s
 * @param {any} msg
 * @param {DataView[] | undefined} buffers
 */
export function onMessage(s, msg, buffers) {
  if (!msg || typeof msg !== "object") return;
  switch (msg.type) {
    case "begin":
      begin(s, msg);
      break;
    case "chunk":
      onChunk(s, msg, asDataView(buffers && buffers[0]));
      break;
    case "text":
      s.text += String(msg.text ?? "");
      for (const v of s.views) v.setText();
      break;
    case "status":
      setKernelStatus(s, String(msg.status), String(msg.message || ""));
      break;
    case "trace": // the kernel's and the server's stages, sent when the stream ended (debug)
      for (const [k, t] of Object.entries(msg.stages || {})) markStage(s.debug, k, +t);
      refresh(s);
      break;
    case "stop": // the kernel interrupts this player
      silence(s, "interrupted");
      queue.pump();
      break;
    default:
      break;
  }
}

/**
 * The kernel that fed this player died (killed, restarted): no more audio comes. A speech still arriving
 * ends where it stopped: what arrived plays to its end (or waits its turn), and the player then leaves
 * the queue instead of waiting for audio forever. A complete speech is left alone.
 * @param {Player} s
 */
export function kernelLost(s) {
  s.kernelGone = true; // "Speak again" has no kernel to ask any more
  if (s.kernel !== "connecting" && s.kernel !== "streaming") { refresh(s); return; }
  s.kernel = "lost";
  s.kernelMessage = "";
  endStream(s);
  for (const v of s.views) v.setText();
  refresh(s);
}

/** @param {Player} s @param {string} status @param {string} message */
export function setKernelStatus(s, status, message) {
  s.kernel = status;
  s.kernelMessage = message;
  if (status === "done" || status === "error") endStream(s);
  for (const v of s.views) v.setText();
  refresh(s);
}

/** A re-rendered or reopened output after the stream ended: rebuild from the synced state alone. @param {Player} s */
export function restore(s) {
  const words = s.model.get("words") || [];
  if (s.chunks.length || s.list.words.length || !words.length) return;
  const bytes = asDataView(s.model.get("audio"));
  if (bytes.byteLength >= 2) insertChunk(s, makeChunk("speech", 0, bytes, s.model.get("sample_rate") || 22050));
  registerWords(s, words.map((/** @type {any} */ w) => ({ lane: String(w.lane ?? "speech"), text: String(w.text),
                                                         start: +w.start_ms, end: +w.end_ms })));
  s.alignedChars = s.list.words.reduce((n, w) => n + nonSpaceCount(w.text), 0);
  endStream(s);
}
