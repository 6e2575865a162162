// @ts-check
// One player's state: its audio chunks, its words, its clock anchor and its views. Kept per player_id,
// because anywidget hands initialize() and render() different model proxies.
import { debugLog } from "./debug.js";
import { wordList } from "./words.js";

/**
 * @typedef {Object} Model  the part of anywidget's model the player uses
 * @property {(key: string) => any} get
 * @property {(event: string, fn: (...args: any[]) => void) => void} on
 * @property {(event: string, fn: (...args: any[]) => void) => void} off
 * @property {(content: any) => void} send
 */

/**
 * @typedef {Object} Chunk
 * @property {string} lane
 * @property {number} at    ms on the timeline
 * @property {number} dur   ms
 * @property {number} rate
 * @property {AudioBuffer | null} buffer  null when the page has no Web Audio
 * @property {Float32Array} samples  the buffer's own channel data (no second copy)
 * @property {import("./debug.js").ChunkLog | null} log
 */

/**
 * @typedef {Object} View  one rendered output of the player
 * @property {HTMLElement} root
 * @property {() => void} reset
 * @property {(words: import("./words.js").Word[]) => void} addWords
 * @property {(w: import("./words.js").Word) => void} growWord
 * @property {(previous: number, k: number) => void} moveHighlight
 * @property {() => void} restyle
 * @property {() => void} setText
 * @property {(t: number) => number} frame  draw what shows the media time `t`; gives the media time of
 *   the view's next visible change while playing (Infinity: none)
 * @property {() => void} refresh
 * @property {() => void} dispose
 */

/** @typedef {"idle" | "playing" | "waiting" | "paused" | "ended"} Mode */

/**
 * @typedef {Object} Stream  what one utterance resets
 * @property {Chunk[]} chunks   sorted by `at`
 * @property {number} contiguousEnd  end of the audio that plays without a hole (ms); once the stream is
 *   done, a hole is silence and this is bufferedEnd
 * @property {number} gaplessEnd  end of the audio without a hole, done or not (ms)
 * @property {number} bufferedEnd    end of all audio received (ms)
 * @property {import("./words.js").WordList} list
 * @property {number} alignedChars   non-space characters aligned so far (the kernel counts them)
 * @property {string[]} seenLanes
 * @property {{id: string, label: string}[] | null} begunLanes  the lanes `begin` declared (the synced
 *   `lanes` follow it a message later); null for an output rebuilt from the synced state alone
 * @property {boolean} streamDone    the kernel finished (or failed): no more audio comes
 * @property {Mode} mode   waiting = underrun: the clock waits for audio
 * @property {boolean} userPaused
 * @property {boolean} autoplay      plays when its turn comes (live streams; not a reopened output)
 * @property {"" | "stopped" | "interrupted"} terminal
 * @property {number} anchorMedia    media ms at anchorCtx
 * @property {number} anchorCtx      AudioContext seconds when anchorMedia plays
 * @property {number} current        position in list.order of the highlighted word
 * @property {import("./debug.js").DebugLog} debug
 */

/**
 * @typedef {Stream & {
 *   id: string, model: Model, queueId: string, wantsNow: boolean,
 *   ctx: AudioContext | null, out: GainNode | null, sources: Set<AudioBufferSourceNode>, views: Set<View>,
 *   raf: number, frameTimer: number, blocked: boolean, blockTimer: number, text: string, kernel: string, kernelMessage: string,
 *   kernelGone: boolean, early: import("./early.js").Early | null,
 * }} Player  (kernelGone: its kernel died or restarted; nothing sent to the kernel is heard any more;
 *   early: its early voice, kept on the player because anywidget may evaluate a copy of each module per widget)
 */

/** @param {boolean} debugOn @returns {Stream} */
export function freshStream(debugOn) {
  return {
    chunks: [], contiguousEnd: 0, gaplessEnd: 0, bufferedEnd: 0, list: wordList(), alignedChars: 0, seenLanes: [], begunLanes: null,
    streamDone: false, mode: "idle", userPaused: false, autoplay: false, terminal: "", anchorMedia: 0,
    anchorCtx: 0, current: -1, debug: debugLog(debugOn),
  };
}

/**
 * @param {string} id
 * @param {Model} model
 * @param {boolean} debugOn
 * @returns {Player}
 */
export function createPlayer(id, model, debugOn) {
  return Object.assign(freshStream(debugOn), {
    id, model, queueId: String(model.get("queue_id") || ""), wantsNow: false,
    ctx: null, out: null, sources: new Set(), views: new Set(), raf: 0, frameTimer: 0, blocked: false, blockTimer: 0,
    text: String(model.get("text") || ""), kernel: String(model.get("status") || "idle"),
    kernelMessage: String(model.get("status_message") || ""), kernelGone: false, early: null,
  });
}

/**
 * The lanes the kernel declared, then any others seen in the stream.
 * @param {Player} s
 * @returns {{id: string, label: string}[]}
 */
export function lanesOf(s) {
  /** @type {{id: string, label: string}[]} */
  const declared = (s.begunLanes || s.model.get("lanes") || []).map((/** @type {any} */ l) => ({ id: String(l.id), label: String(l.label ?? l.id) }));
  for (const id of s.seenLanes) if (!declared.some((l) => l.id === id)) declared.push({ id, label: id });
  return declared;
}

/** @param {Player} s @param {string} lane */
export function labelOf(s, lane) {
  return lanesOf(s).find((l) => l.id === lane)?.label ?? lane;
}

export const LANE_COLORS = 6; // --enb-lane-0 .. --enb-lane-5 in player.css

/** The colour slot of the lane at `index` in lanesOf(): lanes in order get distinct colours. @param {number} index */
export function colorSlot(index) {
  return Math.max(0, index) % LANE_COLORS;
}

/** The lane's colour slot. @param {Player} s @param {string} lane */
export function colorOf(s, lane) {
  return colorSlot(lanesOf(s).findIndex((l) => l.id === lane));
}

/** @param {Player} s */
export function hasAudio(s) {
  return s.chunks.length > 0;
}
