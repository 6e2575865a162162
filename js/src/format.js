// @ts-check
// Text shown by the player: clock, readout, the time axis's ticks, the status line.

export const CLOCK_STEP_MS = 100; // what clock() shows

/**
 * When a value shown rounded to `step` next changes: `t` rounds to a multiple of `step` until this time.
 * @param {number} t @param {number} step
 */
export function nextStep(t, step) {
  return (Math.floor(t / step + 0.5) + 0.5) * step;
}

/** m:ss.t, tenths rounded (CLOCK_STEP_MS). @param {number} ms */
export function clock(ms) {
  const tenths = Math.round(Math.max(0, ms) / CLOCK_STEP_MS); // rounded once: 59.96 s is 1:00.0, not 0:60.0
  return `${Math.floor(tenths / 600)}:${((tenths % 600) / 10).toFixed(1).padStart(4, "0")}`;
}

/** Two significant digits, without trailing zeros: 0.0014, 0.05, 1.2. @param {number} x */
function sig2(x) {
  return String(Number(x.toPrecision(2)));
}

/**
 * The readout: time to first audio, real-time factor (with the speed-up when faster than real time), length.
 * @param {{ttfa_ms?: number | null, rtf?: number | null, audio_ms?: number | null}} m
 */
export function readout(m) {
  const parts = [];
  if (m.ttfa_ms != null) parts.push(`first audio ${Math.round(m.ttfa_ms)} ms`);
  if (m.rtf != null && Number.isFinite(+m.rtf)) {
    const rtf = +m.rtf;
    parts.push(rtf > 0 && rtf < 1 ? `RTF ${sig2(rtf)} (×${sig2(1 / rtf).replace(/\.\d+$/, "")} real time)` : `RTF ${sig2(rtf)}`);
  }
  if (m.audio_ms != null) parts.push(`${(m.audio_ms / 1000).toFixed(1)} s audio`);
  return parts.join(" · ");
}

/** @param {number} ms @param {number} step */
function tickLabel(ms, step) {
  const secs = ms / 1000;
  if (step < 1000) return secs.toFixed(1);
  return `${Math.floor(secs / 60)}:${String(Math.floor(secs % 60)).padStart(2, "0")}`;
}

const STEPS = [500, 1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000, 300000, 600000];
const MIN_GAP_PX = 60; // between ticks
const LABEL_PX = 36; // room a label needs

/**
 * Ticks of the time axis: one every step (at least 60 px apart), and a last one at the end, all labelled.
 * A regular label that would collide with the end's label is left out.
 * @param {number} totalMs
 * @param {number} width  px
 * @returns {{x: number, label: string, align: "left" | "right"}[]}
 */
export function axisTicks(totalMs, width) {
  if (!(width > 0) || !(totalMs > 0)) return [];
  const scale = width / totalMs;
  const step = STEPS.find((ms) => ms * scale >= MIN_GAP_PX) || STEPS[STEPS.length - 1];
  /** @type {{x: number, label: string, align: "left" | "right"}[]} */
  const ticks = [];
  for (let ms = 0; ms * scale <= width - 2 * LABEL_PX; ms += step) {
    ticks.push({ x: Math.round(ms * scale) + 0.5, label: tickLabel(ms, step), align: "left" });
  }
  ticks.push({ x: width - 0.5, label: clock(totalMs), align: "right" }); // the length, as the clock shows it
  return ticks;
}

const LOST = "kernel stopped: speech incomplete"; // said with every status of a player whose kernel died mid-speech

/** @type {Record<string, string>} */
const STATUS_TEXT = {
  idle: "ready", queued: "queued", connecting: "connecting…", streaming: "streaming", buffering: "buffering…",
  playing: "playing", paused: "paused", done: "done", stopped: "stopped", interrupted: "interrupted", error: "error",
  incomplete: LOST,
};

/**
 * @typedef {Object} StatusInput
 * @property {string} kernel  the kernel's word: idle | connecting | streaming | done (synthesis finished) | error,
 *   or the browser's "lost": the kernel died (killed, restarted) before the speech was complete
 * @property {string} message the kernel's message with it
 * @property {string} mode    idle | playing | waiting | paused | ended
 * @property {string} terminal "" | stopped | interrupted
 * @property {boolean} queued an earlier player of the queue (or another playing one) goes first
 * @property {boolean} [due]  it has audio that plays by itself and has not started (playback.due)
 */

/**
 * What the status line says: the kernel tells connecting/streaming/finished/error; the rest is the browser's.
 * @param {StatusInput} p
 * @returns {{status: string, text: string}}
 */
export function statusLine(p) {
  const status = deriveStatus(p);
  let text = STATUS_TEXT[status] || status;
  if (status === "error") text = `error: ${p.message || "unknown error"}`;
  else if (p.kernel === "lost") text = status === "incomplete" ? LOST : `${text} · ${LOST}`;
  // (an interrupted player's kernel also says "interrupted": once is enough)
  else if (p.message && p.message !== text && p.kernel !== "error" && status !== "buffering") text = `${text}: ${p.message}`;
  return { status: status === "buffering" ? "streaming" : status, text };
}

/** @param {StatusInput} p */
function deriveStatus(p) {
  if (p.terminal) return p.terminal;
  if (p.kernel === "error") return "error";
  const lost = p.kernel === "lost";
  if (p.mode === "ended") return lost ? "incomplete" : "done";
  if (p.mode === "paused") return "paused";
  if (p.queued && p.mode !== "playing" && p.mode !== "waiting") return "queued";
  if (p.due && p.mode === "idle" && (p.kernel === "done" || lost)) return "queued";
  if (p.mode === "waiting") return p.kernel === "done" || lost ? "playing" : "buffering";
  if (p.mode === "playing") return p.kernel === "done" || lost ? "playing" : "streaming";
  if (lost) return "incomplete";
  if (p.kernel === "connecting" || p.kernel === "streaming" || p.kernel === "done") return p.kernel;
  return "idle";
}
