// @ts-check
// The media clock: where on the player's timeline the audio is, from the AudioContext's clock.

/**
 * @typedef {Object} ClockState
 * @property {string} mode
 * @property {{currentTime: number, outputLatency?: number, baseLatency?: number} | null} ctx
 * @property {number} anchorMedia
 * @property {number} anchorCtx
 * @property {number} contiguousEnd
 */

/** What has been scheduled to reach the output by now (ms on the timeline). @param {ClockState} s */
export function rawTime(s) {
  if (s.mode !== "playing" || !s.ctx) return s.anchorMedia;
  return s.anchorMedia + (s.ctx.currentTime - s.anchorCtx) * 1000;
}

/**
 * What the listener hears now: the raw clock less the output latency, held inside the audio we have.
 * @param {ClockState} s
 */
export function mediaTime(s) {
  if (s.mode !== "playing" || !s.ctx) return s.anchorMedia;
  const latency = Math.min(0.5, Math.max(0, s.ctx.outputLatency || s.ctx.baseLatency || 0));
  const t = s.anchorMedia + (s.ctx.currentTime - latency - s.anchorCtx) * 1000;
  return Math.min(Math.max(t, s.anchorMedia), s.contiguousEnd);
}

export const GAP_TOLERANCE_MS = 5; // chunks closer than this count as contiguous

/**
 * The ends of the audio: `contiguous` plays without a hole from the first chunk; once the stream is over,
 * a hole is just silence. `gapless` is the end without a hole, streaming or not.
 * @param {{at: number, dur: number}[]} chunks  sorted by at
 * @param {boolean} streamDone
 */
export function audioEnds(chunks, streamDone) {
  let end = chunks.length ? chunks[0].at : 0, all = 0;
  for (const c of chunks) {
    if (c.at <= end + GAP_TOLERANCE_MS) end = Math.max(end, c.at + c.dur);
    all = Math.max(all, c.at + c.dur);
  }
  return { buffered: all, gapless: end, contiguous: streamDone ? all : end };
}

/**
 * The ends after one more chunk that starts at or after every chunk before it (the usual arrival): what
 * audioEnds gives for the whole list, without walking the thousands of chunks a long stream has.
 * @param {{buffered: number, gapless: number}} ends  of the chunks before it (at least one)
 * @param {{at: number, dur: number}} c
 * @param {boolean} streamDone
 */
export function appendEnds(ends, c, streamDone) {
  const buffered = Math.max(ends.buffered, c.at + c.dur);
  const gapless = c.at <= ends.gapless + GAP_TOLERANCE_MS ? Math.max(ends.gapless, c.at + c.dur) : ends.gapless;
  return { buffered, gapless, contiguous: streamDone ? buffered : gapless };
}
