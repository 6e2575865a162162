// @ts-check
// eleven_nb player, the anywidget entry. Plays streamed int16 PCM chunks gaplessly with Web Audio and
// keeps a transcript and a timeline in step with the audio clock. Built into eleven_nb/static/player.js.
//
// Kernel -> browser ("msg:custom"):
//   {type: "begin", player_id, text, lanes: [{id, label}], interrupt}   a new utterance: reset, join the kernel's
//       playback queue (queue_id); with interrupt, silence every other player of that queue first. The
//       kernel is connecting. The synced text, lanes and status follow it (the same values).
//   {type: "chunk", lane, at_ms, sample_rate, words: [{text, start_ms, end_ms}], grow: {index, text, end_ms} | null,
//    aligned_chars} + buffers[0] = int16 LE mono PCM
//       at_ms and the words' times are absolute on the player's one timeline; `grow` updates word `index`
//       (arrival order) that this chunk continued; aligned_chars counts the non-space characters aligned
//       so far (the text after them shows dimmed as not yet spoken). One sample rate per player.
//   {type: "text", lane, text}                  the transcript grows (token streams)
//   {type: "status", status, message}           connecting | streaming | done (synthesis finished) | error
//   {type: "stop"}                              silence this player (it shows "interrupted")
// Browser -> kernel: {type: "speak_again"}, {type: "stopped"} (the ■ button).
// The model's "comm_live_update" (the kernel restarted or died): a speech still arriving ends where it is.
// Synced state read here: player_id, queue_id, endpoint_label, lanes, text, status, status_message,
// show_timeline, metrics, debug; set when the stream ends: words, audio + sample_rate (a reopened output
// replays from them alone) and captions (the WebVTT the ⤓ VTT button saves).
//
// The browser derives what the status line says (queued, playing, paused, done, stopped, interrupted)
// from the kernel's word and its own playback. Play, pause, seek and the highlight live here, so they
// work while the kernel is busy.
import { mediaTime } from "./clock.js";
import { debugWanted, handles } from "./debug.js";
import { refresh, stopFrames, wake } from "./loop.js";
import { ensureAudio, memberOf, release, settleEarly } from "./playback.js";
import { createPlayer, lanesOf } from "./state.js";
import { kernelLost, onMessage, restore, setKernelStatus } from "./stream.js";
import { markStage } from "./trace.js";
import { makeView } from "./view.js";

// JupyterLab's kernel statuses after which the kernel that fed a player is gone
const KERNEL_GONE = new Set(["restarting", "autorestarting", "dead"]);

/** @typedef {import("./state.js").Player} Player */
/** @typedef {import("./state.js").Model} Model */

/** @type {Map<string, Player>} */
const players = new Map();

/** The read-only handle tests and benchmarks use (only with debugging on). @param {Player} s */
function debugHandle(s) {
  return {
    audioTime: () => mediaTime(s),
    get chunksReceived() { return s.debug.chunksReceived; },
    get firstChunkAt() { return s.debug.firstChunkAt; },
    get firstScheduledAt() { return s.debug.firstScheduledAt; },
    // timeline ms of the first sample that is not near silence (debug.js logSound)
    get firstSoundMs() { return s.debug.firstSoundMs; },
    get highlightedIndex() { return s.current >= 0 ? s.list.order[s.current].index : -1; },
    get state() { return s.blocked ? "blocked" : s.mode; }, // idle|playing|waiting|paused|ended|blocked
    get status() { return s.views.size ? [...s.views][0].root.dataset.status : undefined; },
    get info() {
      return { mode: s.mode, blocked: s.blocked, ctx: s.ctx ? s.ctx.state : null, bufferedEnd: s.bufferedEnd,
               contiguousEnd: s.contiguousEnd, streamDone: s.streamDone, chunks: s.chunks.length,
               lanes: lanesOf(s).map((l) => l.id), views: s.views.size, seq: memberOf(s).seq, terminal: s.terminal };
    },
    get out() { return s.out; }, // the player's gain node: its sources feed it
    // what the early voice (early.js) played of the first chunk, context seconds: {begin, end} or null
    get early() { return s.debug.early ? { ...s.debug.early } : null; },
    get words() { return s.list.words.map((w) => ({ text: w.text, start: w.start, end: w.end, lane: w.lane })); },
    // performance.now() when each chunk arrived and when it was scheduled: [{at_ms, receivedAt, scheduledAt}]
    // stage -> wall-clock ms: the browser's, plus the kernel's and the server's once the stream ended
    get trace() { return { ...s.debug.trace }; },
    get chunkLog() { return s.debug.chunkLog.map((c) => ({ ...c })); },
    // per highlight change: how far (media ms) past the word's start the highlight reached it
    get lags() { return s.debug.lags.slice(); },
    // per animation frame while playing: performance.now(), media ms, and the highlight's lag then
    get frames() { return { at: s.debug.frameAt.slice(), media: s.debug.frameMedia.slice(), lag: s.debug.frameLag.slice() }; },
  };
}

/** @param {Model} model */
function stateFor(model) {
  const id = String(model.get("player_id") || "default");
  let s = players.get(id);
  if (!s) {
    s = createPlayer(id, model, debugWanted(model));
    players.set(id, s);
    memberOf(s);
    if (s.debug.on) handles()[id] = debugHandle(s);
  }
  return s;
}

export default {
  /** @param {{model: Model}} args */
  initialize({ model }) {
    const s = stateFor(model);
    markStage(s.debug, "browser: widget initialized");
    s.model = model;
    s.text = model.get("text") || s.text;
    const st = model.get("status");
    if (st === "done" || st === "error") restore(s);
    /** @param {any} msg @param {DataView[]} buffers */
    const onCustom = (msg, buffers) => onMessage(s, msg, buffers);
    const onStatus = () => setKernelStatus(s, String(model.get("status")), String(model.get("status_message") || ""));
    const onText = () => { s.text = model.get("text") || ""; for (const v of s.views) v.setText(); };
    const onChange = () => refresh(s);
    const onLanes = () => { s.begunLanes = null; refresh(s); }; // the synced lanes are at least as new as begin's
    // ipywidgets sets comm_live false (and says so by this event) when the kernel restarts or dies
    // (JupyterLab's manager on "restarting", which the server also reports when it revives a killed
    // kernel); it is never set true after the model is made. A closed model runs the cleanup below.
    const onLost = () => kernelLost(s);
    // The kernel's own status as well: comm_live_update did not always come after a kernel was killed or
    // restarted (JupyterLab 4, 2 of 4 CI runs), and a player must never wait for audio that cannot come.
    const kernel = /** @type {any} */ (model).widget_manager?.kernel; // the model's kernel, in JupyterLab
    /** @param {unknown} _sender @param {string} status */
    const onKernelStatus = (_sender, status) => { if (KERNEL_GONE.has(status)) kernelLost(s); };
    kernel?.statusChanged?.connect?.(onKernelStatus);
    const changes = ["change:metrics", "change:show_timeline", "change:captions", "change:endpoint_label"];
    model.on("msg:custom", onCustom);
    model.on("change:status", onStatus);
    model.on("change:status_message", onStatus);
    model.on("change:text", onText);
    model.on("comm_live_update", onLost);
    model.on("change:lanes", onLanes);
    for (const ev of changes) model.on(ev, onChange);
    settleEarly(s); // a fresh player that would play at once gets its early voice now, before its cell runs
    return () => {
      model.off("msg:custom", onCustom);
      model.off("change:status", onStatus);
      model.off("change:status_message", onStatus);
      model.off("change:text", onText);
      model.off("comm_live_update", onLost);
      kernel?.statusChanged?.disconnect?.(onKernelStatus);
      model.off("change:lanes", onLanes);
      for (const ev of changes) model.off(ev, onChange);
      release(s);
      players.delete(s.id);
      if (s.debug.on) delete handles()[s.id];
    };
  },
  /** @param {{model: Model, el: HTMLElement}} args */
  render({ model, el }) {
    const s = stateFor(model);
    if (!s.chunks.length && !s.list.words.length) restore(s);
    try { ensureAudio(s); } catch (_) { /* no Web Audio: the transcript still shows */ }
    markStage(s.debug, "browser: view created");
    const view = makeView(s, el);
    s.views.add(view);
    if (s.debug.on) /** @type {any} */ (el).__elevenPlayer = handles()[s.id];
    wake(s);
    return () => {
      view.dispose();
      s.views.delete(view);
      if (!s.views.size) stopFrames(s);
    };
  },
};
