// @ts-check
// Measurement hooks for tests and benchmarks, off unless asked for: the widget's `debug` trait, or
// `globalThis.__ELEVEN_NB_DEBUG = true` set before the widget is created (e.g. a Playwright init script).
// When on: per-frame highlight samples are kept and each player has a read-only handle at
// `globalThis.__elevenPlayers[player_id]` (and `el.__elevenPlayer` on its output element).

const FRAME_LOG = 20000; // per-frame samples kept

/**
 * @typedef {Object} ChunkLog
 * @property {number} at_ms
 * @property {number} receivedAt   performance.now()
 * @property {number | null} scheduledAt
 */

/**
 * @typedef {Object} DebugLog
 * @property {boolean} on
 * @property {number} chunksReceived
 * @property {number | null} firstChunkAt
 * @property {number | null} firstScheduledAt
 * @property {ChunkLog[]} chunkLog
 * @property {number[]} lags
 * @property {number[]} frameAt
 * @property {number[]} frameMedia
 * @property {number[]} frameLag
 * @property {Record<string, number>} trace  stage -> wall-clock ms (trace.js)
 * @property {{begin: number, end: number} | null} early  what the early voice played (context seconds)
 * @property {number | null} firstSoundMs  timeline ms of the first sample that is not near silence
 */

/** @param {boolean} on @returns {DebugLog} */
export function debugLog(on) {
  return { on, chunksReceived: 0, firstChunkAt: null, firstScheduledAt: null, chunkLog: [], lags: [],
           frameAt: [], frameMedia: [], frameLag: [], trace: {}, early: null, firstSoundMs: null };
}

/** @param {{get(key: string): any}} model */
export function debugWanted(model) {
  return !!model.get("debug") || /** @type {any} */ (globalThis).__ELEVEN_NB_DEBUG === true;
}

/**
 * One animation frame while playing: the media time and how far it is past the start of the word that
 * should be lit when another one still is (else 0).
 * @param {DebugLog} d
 * @param {number} t
 * @param {number | null} lag  null when the lit word is the right one
 */
export function logFrame(d, t, lag) {
  if (!d.on) return;
  if (lag !== null) d.lags.push(lag);
  d.frameAt.push(performance.now()); d.frameMedia.push(t); d.frameLag.push(lag ?? 0);
  if (d.frameAt.length > FRAME_LOG) for (const a of [d.frameAt, d.frameMedia, d.frameLag]) a.splice(0, FRAME_LOG / 2);
}

/**
 * A chunk arrived.
 * @param {DebugLog} d
 * @param {number} atMs
 * @returns {ChunkLog | null}
 */
export function logChunk(d, atMs) {
  const now = performance.now();
  d.chunksReceived += 1;
  if (d.firstChunkAt === null) d.firstChunkAt = now;
  if (!d.on) return null;
  const log = { at_ms: atMs, receivedAt: now, scheduledAt: null };
  d.chunkLog.push(log);
  return log;
}

const SOUND = 0.02; // of full scale (-34 dBFS): a voice's quietest onset is above it, a model's pauses below

/**
 * Where the first sound is, once a chunk has one: a first audio that starts with silence is heard late.
 * @param {DebugLog} d
 * @param {number} atMs  the chunk's place on the timeline
 * @param {Float32Array} samples
 * @param {number} rate
 */
export function logSound(d, atMs, samples, rate) {
  if (!d.on || d.firstSoundMs !== null) return;
  for (let i = 0; i < samples.length; i++) {
    if (Math.abs(samples[i]) >= SOUND) { d.firstSoundMs = atMs + (i / rate) * 1000; return; }
  }
}

/** @returns {Record<string, any>} */
export function handles() {
  const g = /** @type {any} */ (globalThis);
  return (g.__elevenPlayers = g.__elevenPlayers || {});
}
