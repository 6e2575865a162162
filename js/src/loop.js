// @ts-check
// The highlight loop: once per animation frame while playing, find the word the listener hears and
// tell the views. It also notices the end of the audio (or an underrun, where the clock waits).
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

/** @param {Player} s */
function frame(s) {
  s.raf = 0;
  checkEnd(s);
  const t = highlight(s, false);
  for (const v of s.views) v.frame(t);
  if (s.mode === "playing") wake(s);
}

/** Ask for a frame (views only draw when there is one). @param {Player} s */
export function wake(s) {
  if (!s.raf && s.views.size) s.raf = requestAnimationFrame(() => frame(s));
}

/** Buttons and status changed. @param {Player} s */
export function refresh(s) {
  for (const v of s.views) v.refresh();
  wake(s);
}
