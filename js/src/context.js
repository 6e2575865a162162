// @ts-check
// One AudioContext for every player on the page (browsers limit how many may exist), shared by every
// copy of this module (anywidget may evaluate one per widget).

/** @typedef {{ctx: AudioContext | null, listeners: Set<() => void>}} Shared */

/** @returns {Shared} */
function shared() {
  const g = /** @type {any} */ (globalThis);
  return (g.__elevenNbAudio = g.__elevenNbAudio || { ctx: null, listeners: new Set() });
}

/** The page's AudioContext, made on first use. */
export function audioContext() {
  const sh = shared();
  if (!sh.ctx || sh.ctx.state === "closed") {
    const g = /** @type {any} */ (globalThis);
    const Ctx = g.AudioContext || g.webkitAudioContext;
    const ctx = /** @type {AudioContext} */ (new Ctx({ latencyHint: "interactive" }));
    ctx.addEventListener("statechange", () => { for (const fn of [...sh.listeners]) fn(); });
    sh.ctx = ctx;
  }
  return sh.ctx;
}

/** Call `fn` when the context's state changes (suspended -> running); returns the unsubscribe. @param {() => void} fn */
export function onContextState(fn) {
  const sh = shared();
  sh.listeners.add(fn);
  return () => { sh.listeners.delete(fn); };
}

/**
 * A mono AudioBuffer with `n` samples; AudioBuffers are not tied to one context.
 * @param {number} n
 * @param {number} rate
 */
export function makeBuffer(n, rate) {
  return new AudioBuffer({ length: Math.max(1, n), sampleRate: rate, numberOfChannels: 1 });
}
