// @ts-check
// The highlight loop: in an animation frame while playing, find the word the listener hears and tell the
// views. It also notices the end of the audio (or an underrun, where the clock waits).
import { mediaTime, rawTime } from "./clock.js";
import { logFrame } from "./debug.js";
import { wordAt } from "./words.js";

/** @typedef {import("./state.js").Player} Player */

/** @type {WeakMap<Player, (s: Player) => void>} */
const endHooks = new WeakMap();

/** Call `fn(s)` when `s` plays to its end. @param {Player} s @param {(s: Player) => void} fn */
export function onEnded(s, fn) {
  endHooks.set(s, fn);
}

/**
 * Light the word at the media time; per frame (not forced) also log the highlight's lag when debugging.
 * @param {Player} s
 * @param {boolean} force
 */
export function highlight(s, force) {
  const t = mediaTime(s);
  const order = s.list.order;
  const k = wordAt(order, t);
  if (s.mode === "playing" && !force && s.debug.on) logFrame(s.debug, t, k !== s.current && k >= 0 ? t - order[k].start : null);
  if (k !== s.current || force) {
    const previous = s.current;
    s.current = k;
    for (const v of s.views) v.moveHighlight(previous, k);
  }
  return t;
}

/** Playing past the audio we have: the end, or an underrun. @param {Player} s */
export function checkEnd(s) {
  if (s.mode !== "playing" || Math.max(rawTime(s), s.anchorMedia) < s.contiguousEnd - 1) return;
  if (s.streamDone) {
    s.mode = "ended";
    s.anchorMedia = s.bufferedEnd;
    s.autoplay = false;
    for (const src of s.sources) { try { src.onended = null; src.stop(); } catch (_) { /* already stopped */ } }
    s.sources.clear();
    endHooks.get(s)?.(s);
  } else {
    s.mode = "waiting"; // underrun: hold the clock here
    s.anchorMedia = s.contiguousEnd;
  }
  refresh(s);
}

// While playing, a frame is drawn only when something shown changes (a word, the clock's tenth, a pixel of
// the playhead), not 60 times a second: in JupyterLab each frame's style, layout and layerize cover the
// whole notebook, and late in a long stream they held the page's main thread for tens of milliseconds.
// The loop sleeps until just before the next change, then asks for frames until it shows: the change is
// drawn in the first frame after it, as when every frame was drawn.
const WAKE_EARLY_MS = 3;

/** @param {Player} s */
function frame(s) {
  s.raf = 0;
  checkEnd(s);
  const t = highlight(s, false);
  let next = Infinity;
  for (const v of s.views) next = Math.min(next, v.frame(t));
  if (s.mode !== "playing") return;
  next = Math.min(next, s.list.order[s.current + 1]?.start ?? Infinity);
  // a word's start and a view's change are on the heard clock; the end of the audio on the raw one
  const wait = Math.min(next - t, s.contiguousEnd - 1 - rawTime(s));
  if (!(wait > WAKE_EARLY_MS)) wake(s);
  else s.frameTimer = setTimeout(() => { s.frameTimer = 0; wake(s); }, wait - WAKE_EARLY_MS);
}

/** Ask for a frame now (views only draw in one). @param {Player} s */
export function wake(s) {
  if (s.frameTimer) { clearTimeout(s.frameTimer); s.frameTimer = 0; }
  if (!s.raf && s.views.size) s.raf = requestAnimationFrame(() => frame(s));
}

/** No more frames (the player has no view, or is gone). @param {Player} s */
export function stopFrames(s) {
  if (s.raf) { cancelAnimationFrame(s.raf); s.raf = 0; }
  if (s.frameTimer) { clearTimeout(s.frameTimer); s.frameTimer = 0; }
}

/** Buttons and status changed. @param {Player} s */
export function refresh(s) {
  for (const v of s.views) v.refresh();
  wake(s);
}
