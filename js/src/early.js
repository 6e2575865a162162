// @ts-check
// Early audio: a player's first audio played without waiting for the page's main thread.
//
// While a cell runs, JupyterLab keeps the page's main thread busy (the key handler, the prompt, the output,
// frames), and the kernel's messages wait behind that work: measured, the first chunk reached the page's
// handler 25-45 ms after the kernel sent it. So, for a player that would play at once (nothing else on the
// page audible or owed, no audio yet), a Worker reads the same kernel messages on a WebSocket of its own
// (Jupyter sends every kernel output to each connection) and streams the player's chunks to an AudioWorklet
// node feeding that player's gain node; neither runs on the main thread. When the main thread handles the
// first chunk it claims the worklet: if it started, the player's clock is anchored where the worklet
// started and the usual sources begin where the worklet's run ends; if not, the worklet never plays and
// the chunks play the usual way.
//
// Only where it can work: a Jupyter server speaking the v1 kernel WebSocket protocol, reached through the
// widget manager's kernel (JupyterLab, Notebook 7), with Worker and AudioWorklet. Anywhere else the player
// is as before. The worker never sends on its socket. It uses the page's own Jupyter credentials (the
// cookie, or the token the page already holds), never the voice service's key.
import { HEAD_SAMPLES, resample, workerSource, workletSource } from "./early_code.js";
import { markStage, wallNow } from "./trace.js";

/** @typedef {import("./state.js").Player} Player */

/**
 * @typedef {Object} Early  one player's early voice
 * @property {"armed" | "claiming" | "playing" | "off"} phase  playing: claimed, and the worklet started it
 * @property {AudioWorkletNode} node
 * @property {Kernel} kernel
 * @property {number} coveredMs  once claimed: where on the timeline the worklet's run ends (it plays [0, coveredMs))
 * @property {number | null} sentAt  wall-clock ms when the first chunk was handed to the worklet (by the worker,
 *   or by the main thread's claim)
 * @property {boolean} offered  the claim carried the main thread's head
 * @property {number | null} workerAt  the worker's hand-off, heard of while such a claim was open: it counts only
 *   if the worklet played the worker's copy after all
 * @property {((run: {startedAt: number, coveredMs: number} | null) => void) | null} settle  ends an open claim
 */

/** @typedef {{worker: Worker, open: boolean, players: Map<string, Player>}} Kernel */

/**
 * @typedef {Object} Shared  the page's early-audio state, shared by every copy of this module
 * @property {Map<string, Kernel>} kernels  by kernel id
 * @property {Map<string, number>} retryAt  kernel id -> performance.now() before which no new socket is tried
 * @property {WeakMap<BaseAudioContext, Promise<void>>} modules
 * @property {typeof resample} resample1  one copy's, for all: each widget evaluates this module anew, and the
 *   first use of a copy's function (its tables made, its loop not yet compiled) takes about 10 ms
 * @property {Set<string>} warmed  the rate pairs resampled once ahead, while the page was idle
 */

const RETRY_MS = 5000; // after a socket that was open closes (a restart, the server going away)
const CLAIM_TIMEOUT_MS = 40; // a running worklet answers within a render quantum or an audio callback
const CLAIM_GIVE_UP_MS = 200; // one that has not answered even the cancel by then is not rendering at all

/** @returns {Shared} */
function shared() {
  const g = /** @type {any} */ (globalThis);
  const sh = (g.__elevenNbEarly = g.__elevenNbEarly || { kernels: new Map(), retryAt: new Map(), modules: new WeakMap() });
  sh.resample1 ??= resample; // (made by an older copy of this module, on a page open across an upgrade)
  sh.warmed ??= new Set();
  return sh;
}

/** The kernel's WebSocket URL for a read-only second connection, or null where there is none. @param {any} model */
function kernelUrl(model) {
  const kernel = model?.widget_manager?.kernel;
  const settings = kernel?.serverSettings;
  if (!kernel?.id || typeof settings?.wsUrl !== "string") return null;
  const url = new URL(`api/kernels/${encodeURIComponent(kernel.id)}/channels`, settings.wsUrl);
  url.searchParams.set("session_id", `eleven-nb-early-${Math.random().toString(36).slice(2)}`);
  if (settings.token && settings.appendToken !== false) url.searchParams.set("token", settings.token);
  return { id: String(kernel.id), url: url.href };
}

/** @param {any} model @returns {Kernel | null} */
function kernelFor(model) {
  const where = kernelUrl(model);
  if (!where) return null;
  const sh = shared();
  let k = sh.kernels.get(where.id);
  if (!k && performance.now() < (sh.retryAt.get(where.id) ?? 0)) return null;
  if (!k) {
    const blob = URL.createObjectURL(new Blob([workerSource()], { type: "text/javascript" }));
    /** @type {Worker} */
    let worker;
    try {
      worker = new Worker(blob);
    } catch (_) { // e.g. a content security policy without blob: workers
      sh.retryAt.set(where.id, Infinity);
      return null;
    } finally {
      URL.revokeObjectURL(blob);
    }
    const made = /** @type {Kernel} */ ({ worker, open: false, players: new Map() });
    worker.onmessage = (e) => {
      const m = e.data;
      if (m.type === "socket") {
        made.open = m.open;
        if (!m.open) { // closed: refused (never again on this page), or lost (a later player tries again)
          sh.retryAt.set(where.id, m.opened ? performance.now() + RETRY_MS : Infinity);
          worker.terminate();
          if (sh.kernels.get(where.id) === made) sh.kernels.delete(where.id);
          for (const s of made.players.values()) disarm(s);
        }
      } else if (m.type === "sent") {
        const s = made.players.get(m.player);
        if (!s) return;
        if (s.early?.offered) { s.early.workerAt = m.at; return; } // the worklet's answer says which copy played
        if (s.early) s.early.sentAt = m.at;
        markStage(s.debug, "browser: first chunk to the worklet (worker)", m.at);
        markStage(s.debug, "browser: the worker's hand-off known on the main thread");
      }
    };
    worker.postMessage({ type: "connect", url: where.url });
    sh.kernels.set(where.id, made);
    k = made;
  }
  return k;
}

/** @param {AudioContext} ctx */
function workletModule(ctx) {
  const sh = shared();
  let ready = sh.modules.get(ctx);
  if (!ready) {
    const blob = URL.createObjectURL(new Blob([workletSource()], { type: "text/javascript" }));
    ready = ctx.audioWorklet.addModule(blob).finally(() => URL.revokeObjectURL(blob));
    sh.modules.set(ctx, ready);
  }
  return ready;
}

/** Whether early audio can exist on this page at all. */
function supported() {
  const g = /** @type {any} */ (globalThis);
  return typeof g.Worker === "function" && typeof g.AudioWorkletNode === "function" && typeof g.Blob === "function";
}

/** Whether `s` can have an early voice here: the browser has the parts, the page a Jupyter kernel. @param {Player} s */
export function possible(s) {
  return supported() && s.model.get("early_audio") !== false && kernelUrl(s.model) !== null;
}

/**
 * Arm `s`: its next utterance's first chunk plays from the worker. Call only when it would play at once.
 * @param {Player} s
 */
export async function arm(s) {
  if (!!s.early || !possible(s)) return;
  const kernel = kernelFor(s.model);
  if (!kernel || !s.out || !s.ctx) return;
  const placeholder = /** @type {Early} */ ({ phase: "armed", node: /** @type {any} */ (null), kernel, coveredMs: 0,
                                               sentAt: null, offered: false, workerAt: null, settle: null });
  s.early = placeholder; // no second arm while the module loads
  try {
    await workletModule(s.ctx);
  } catch (_) {
    s.early = null;
    return;
  }
  if (s.early !== placeholder || placeholder.phase !== "armed" || !s.out || !s.ctx) return;
  /** @type {AudioWorkletNode} */
  let node;
  try {
    node = new AudioWorkletNode(s.ctx, "eleven-nb-early", { numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1] });
    node.connect(s.out);
  } catch (_) {
    s.early = null;
    return;
  }
  placeholder.node = node;
  node.port.onmessage = (e) => { if (e.data.type === "ended") retire(s, placeholder); }; // stopped
  const wire = new MessageChannel();
  node.port.postMessage({ type: "wire", port: wire.port2 }, [wire.port2]);
  kernel.players.set(s.id, s);
  kernel.worker.postMessage({ type: "arm", player: s.id, port: wire.port1, rate: s.ctx.sampleRate }, [wire.port1]);
  warmResampler(Number(s.model.get("sample_rate")) || 22050, s.ctx.sampleRate);
}

/**
 * Resample a little from `from` to `to` Hz once, while the page is idle, so that a claim's head (8192
 * samples) takes about 1 ms on the main thread rather than 10. @param {number} from @param {number} to
 */
function warmResampler(from, to) {
  const sh = shared(), key = `${from}:${to}`;
  if (sh.warmed.has(key)) return;
  sh.warmed.add(key);
  const g = /** @type {any} */ (globalThis);
  const warm = () => { for (let i = 0; i < 2; i++) sh.resample1(new Float32Array(1024), from, to, 0, 2048); };
  if (typeof g.requestIdleCallback === "function") g.requestIdleCallback(warm, { timeout: 100 });
  else setTimeout(warm, 0);
}

/** @param {Early} e */
function unplug(e) {
  if (e.node) { e.node.port.onmessage = null; e.node.disconnect(); }
}

/** @param {Player} s @param {Early} e */
function retire(s, e) {
  e.phase = "off";
  e.settle?.(null); // an open claim: nothing of the worklet will play
  unplug(e);
  e.kernel.worker.postMessage({ type: "disarm", player: s.id });
  if (e.kernel.players.get(s.id) === s) e.kernel.players.delete(s.id);
  if (s.early === e) s.early = null;
}

/** Whether `s` is armed and its first chunk has not been claimed yet. @param {Player} s */
export function armed(s) {
  return s.early?.phase === "armed";
}

/** Whether the main thread is waiting for the worklet's answer. @param {Player} s */
export function claiming(s) {
  return s.early?.phase === "claiming";
}

/** Disarm, or silence, `s`'s early voice. @param {Player} s */
export function disarm(s) {
  const e = s.early;
  if (!e) return;
  if (e.node && e.phase !== "off") e.node.port.postMessage({ type: "stop" });
  retire(s, e);
}

/** The end of the audio the worklet plays (ms on the timeline), 0 when it plays none. @param {Player} s */
export function coveredMs(s) {
  const e = s.early;
  return e && e.phase === "playing" ? e.coveredMs : 0;
}

/**
 * The main thread has `s`'s first chunk: end the worklet's run and ask where it stands. Unless the worker
 * has said it handed its copy over, the claim carries the chunk's head, which the worklet plays at once if
 * the worker's run has not started: the first audio then waits neither for the worker nor for the answer.
 * Resolves to the context time of the run's first sample and the timeline's end of the run, or null (it
 * never played, and never will: the chunks play the usual way).
 * @param {Player} s
 * @param {() => void} playedOut  called when the worklet has played its run to the end (after the claim)
 * @param {{samples: Float32Array, rate: number} | null} [first]  the first chunk's audio, at its own rate
 * @returns {Promise<{startedAt: number, coveredMs: number} | null>}
 */
export function claim(s, playedOut, first = null) {
  const e = s.early;
  // a context that is not running renders nothing (and answers nothing): the worklet cannot have started
  if (!e || e.phase !== "armed" || !e.node || !s.ctx || s.ctx.state !== "running") {
    if (e) disarm(s);
    return Promise.resolve(null);
  }
  e.phase = "claiming";
  e.kernel.worker.postMessage({ type: "disarm", player: s.id }); // no more audio to the worklet
  const head = first && e.sentAt === null ? headOf(first, s.ctx.sampleRate) : null;
  const offeredAt = wallNow();
  e.offered = !!head;
  return new Promise((resolve) => {
    /** @type {ReturnType<typeof setTimeout>} */
    let giveUp;
    // A worklet that has not answered in this time has not been rendering (it reads its messages between
    // render quanta): cancel the claim. It answers the cancel (it never plays) unless it started the head
    // just before; then that answer comes first, and it plays on. Never cut: a cut head would be heard twice.
    const cancel = setTimeout(() => {
      if (e.phase !== "claiming") return;
      e.node.port.postMessage({ type: "cancel" });
      giveUp = setTimeout(() => { // not rendering at all: silence it, the chunks play the usual way
        if (e.phase !== "claiming") return;
        markStage(s.debug, "browser: early voice did not answer the claim");
        disarm(s);
      }, CLAIM_GIVE_UP_MS - CLAIM_TIMEOUT_MS);
    }, CLAIM_TIMEOUT_MS);
    e.settle = (run) => { clearTimeout(cancel); clearTimeout(giveUp); e.settle = null; resolve(run); };
    e.node.port.onmessage = (ev) => {
      const m = ev.data;
      if (m.type === "claimed") {
        if (m.startedAt === null || e.phase !== "claiming") { retire(s, e); return; }
        if (m.offered) { // what plays is the head this claim carried: handed over when it was posted
          e.sentAt = offeredAt;
          markStage(s.debug, "browser: first chunk to the worklet (main thread)", offeredAt);
        } else if (e.workerAt !== null) { // the worker's copy had started before the claim came
          e.sentAt = e.workerAt;
          markStage(s.debug, "browser: first chunk to the worklet (worker)", e.workerAt);
        }
        e.phase = "playing";
        e.coveredMs = +m.coveredMs;
        e.settle?.({ startedAt: +m.startedAt, coveredMs: e.coveredMs });
      } else if (m.type === "ended") { // after the claim: played out (a stop unplugs it first)
        unplug(e);
        playedOut();
      }
    };
    if (head) e.node.port.postMessage({ type: "claim", samples: head.samples, endMs: head.endMs }, [head.samples.buffer]);
    else e.node.port.postMessage({ type: "claim" });
  });
}

/**
 * The head of a first chunk at the context's rate, as the worker would send it. @param {{samples: Float32Array, rate: number}} first
 * @param {number} to @returns {{samples: Float32Array, endMs: number}}
 */
function headOf(first, to) {
  const split = Math.min(HEAD_SAMPLES, Math.round((first.samples.length * to) / first.rate));
  return { samples: shared().resample1(first.samples, first.rate, to, 0, split), endMs: (split / to) * 1000 };
}

/**
 * When the first audio was handed over for playback (wall-clock ms): the worker's post to the worklet, the
 * counterpart of an AudioBufferSourceNode's start(); else the worklet's start, from the context clock.
 * @param {Player} s @param {AudioContext} ctx @param {number} t0
 */
export function handedOverAt(s, ctx, t0) {
  return s.early?.sentAt ?? contextToWall(ctx, t0);
}

/** The context time `t` as wall-clock ms (the trace's clock). @param {AudioContext} ctx @param {number} t */
export function contextToWall(ctx, t) {
  return wallNow() - (ctx.currentTime - t) * 1000;
}

