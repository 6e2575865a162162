// @ts-check
// The code of the early-audio path that runs off the page's main thread: a Worker that reads the kernel's
// messages on a WebSocket of its own, and an AudioWorklet processor that plays a player's first chunk.
// Each runs from a Blob URL, so each function here is self-contained (no imports, no outer names); the
// pure ones are exported for the unit tests too. See early.js for why and how.

/**
 * One frame of Jupyter's kernel WebSocket protocol "v1.kernel.websocket.jupyter.org": a count n, then n
 * little-endian uint64 offsets, then the parts. Part k (0 the channel, 1 the header, 2 the parent header,
 * 3 the metadata, 4 the content, 5 on the buffers) spans offsets k to k + 1. Returns the channel and the
 * offsets, or null if malformed.
 * @param {ArrayBuffer} data
 * @param {TextDecoder} [decoder]  the caller's, reused: one frame per kernel message
 * @returns {{channel: string, offsets: number[]} | null}
 */
export function splitKernelFrame(data, decoder = new TextDecoder()) {
  if (data.byteLength < 8) return null;
  const view = new DataView(data);
  const n = view.getUint32(0, true);
  if (n < 6 || view.getUint32(4, true) !== 0 || 8 * (n + 1) > data.byteLength) return null;
  const offsets = [];
  for (let i = 0; i < n; i++) {
    const at = view.getUint32(8 * (i + 1), true);
    if (view.getUint32(8 * (i + 1) + 4, true) !== 0 || at > data.byteLength || (i && at < offsets[i - 1])) return null;
    offsets.push(at);
  }
  const channel = decoder.decode(new Uint8Array(data, offsets[0], offsets[1] - offsets[0]));
  return { channel, offsets };
}

/**
 * Resample mono floats from `from` Hz to `to` Hz with a windowed sinc (Lanczos, 8 lobes), low-passed at
 * the lower of the two Nyquist rates: the worklet cannot hand audio to the browser's own resampler. The
 * kernel is tabulated at 512 phases between input samples, so a sample costs a few dozen multiply-adds.
 * Output samples [begin, end) only, when given: a head can go out before the rest is made.
 * @param {Float32Array} input
 * @param {number} from
 * @param {number} to
 * @param {number} [begin]
 * @param {number} [end]
 * @returns {Float32Array}
 */
export function resample(input, from, to, begin = 0, end = Infinity) {
  const total = from === to ? input.length : Math.round(input.length * to / from);
  const lo = Math.max(0, Math.min(begin, total)), hi = Math.max(lo, Math.min(end, total));
  if (from === to) return input.slice(lo, hi);
  const lobes = 8, phases = 512;
  const ratio = to / from;
  const cutoff = Math.min(1, ratio); // of the input's Nyquist rate
  const half = Math.ceil(lobes / cutoff); // input samples on each side of an output sample
  const taps = 2 * half;
  const cache = /** @type {any} */ (resample).tables || (/** @type {any} */ (resample).tables = new Map());
  const key = `${from}:${to}`;
  /** @type {Float32Array | undefined} */
  let table = cache.get(key);
  if (!table) { table = kernelTable(); cache.set(key, table); }
  const out = new Float32Array(hi - lo);
  for (let j = lo; j < hi; j++) {
    const t = j / ratio; // where output sample j falls in the input
    const base = Math.floor(t);
    const row = Math.round((t - base) * phases) * taps;
    const first = base - half + 1;
    let acc = 0;
    for (let k = 0; k < taps; k++) {
      const i = first + k;
      if (i >= 0 && i < input.length) acc += input[i] * table[row + k];
    }
    out[j - lo] = acc;
  }
  return out;

  function kernelTable() {
  /** @param {number} x */
  const sinc = (x) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));
  const table = new Float32Array((phases + 1) * taps); // row p: the weights for fraction p / phases
  for (let p = 0; p <= phases; p++) {
    const frac = p / phases;
    let norm = 0;
    for (let k = 0; k < taps; k++) {
      const x = (frac - (k - half + 1)) * cutoff;
      const w = x <= -lobes || x >= lobes ? 0 : sinc(x) * sinc(x / lobes);
      table[p * taps + k] = w;
      norm += w;
    }
    for (let k = 0; k < taps; k++) table[p * taps + k] /= norm || 1;
  }
  return table;
  }
}

/**
 * The first piece of a run, in samples at the context's rate (about 170 ms at 48 kHz): the worker sends it
 * first, while it makes the rest, and the page offers only it with a claim. The rest must reach the worklet
 * before the head has played, or the run ends there (a gap would move the timeline): with 2048 samples (43 ms),
 * a worker kept from a core on a loaded 2-core machine left the first audio at its head, then 1.8 s of silence.
 */
export const HEAD_SAMPLES = 8192;

/**
 * The Worker. Messages from the page: {type: "connect", url} opens the kernel's WebSocket (read-only:
 * it never sends); {type: "arm", player, port, rate} gives a player's worklet port and the audio
 * context's rate; {type: "disarm", player}. Once an armed player's `begin` has passed on the socket, its
 * chunks go to its worklet, resampled, as long as they follow one another on the timeline from 0 ms, start
 * within the first 20 s, and the player stays armed (the page disarms it when it claims the worklet). To the page: {type: "socket",
 * open, opened} and {type: "sent", player, at} (wall ms of the first hand-off, for the trace).
 */
export function workerMain() {
  const scope = /** @type {any} */ (self);
  // the run's length: the page normally claims within a second, and the worklet holds a second copy of it
  const MAX_RUN_MS = 20000;
  const decoder = new TextDecoder();
  /** @type {Map<string, {port: MessagePort, rate: number, nextMs: number | null}>} nextMs: null until begun */
  const armed = new Map();
  /** @type {Map<string, string>} comm id -> player id, from an armed player's begin */
  const begun = new Map();
  /** @type {WebSocket | null} */
  let socket = null;
  const wall = () => performance.timeOrigin + performance.now();
  /** @param {ArrayBuffer} data @param {number[]} o @param {number} k */
  const json = (data, o, k) => JSON.parse(decoder.decode(new Uint8Array(data, o[k], o[k + 1] - o[k])));

  /** @param {string} player */
  function forget(player) {
    armed.delete(player);
    for (const [comm, p] of begun) if (p === player) begun.delete(comm);
  }

  /** @param {ArrayBuffer} data */
  function onFrame(data) {
    if (!armed.size) return; // nothing to listen for: every other kernel message costs no parsing
    const frame = splitKernelFrame(data, decoder);
    if (!frame || frame.channel !== "iopub") return;
    const o = frame.offsets;
    if (json(data, o, 1).msg_type !== "comm_msg") return;
    const content = json(data, o, 4);
    const msg = content?.data?.method === "custom" ? content.data.content : null;
    if (!msg) return;
    if (msg.type === "begin") {
      const target = armed.get(msg.player_id);
      if (target && target.nextMs === null) { begun.set(content.comm_id, msg.player_id); target.nextMs = 0; }
      return;
    }
    const player = msg.type === "chunk" ? begun.get(content.comm_id) : undefined;
    const target = player === undefined ? undefined : armed.get(player);
    if (player === undefined || !target || target.nextMs === null) return;
    const at = +msg.at_ms, rate = +msg.sample_rate || 22050;
    if (Math.abs(at - target.nextMs) > 1 || at >= MAX_RUN_MS || o.length < 7 || o[6] - o[5] < 2) {
      forget(player); // not the next piece of the run, or the run is long enough: the page plays the rest
      return;
    }
    const bytes = data.slice(o[5], o[5] + ((o[6] - o[5]) & ~1));
    const ints = new Int16Array(bytes);
    const floats = new Float32Array(ints.length);
    for (let i = 0; i < ints.length; i++) floats[i] = ints[i] / 32768;
    const end = at + (ints.length / rate) * 1000;
    const first = at === 0;
    const split = first ? Math.min(HEAD_SAMPLES, Math.round((ints.length * target.rate) / rate)) : 0;
    const splitMs = at + (split / target.rate) * 1000;
    if (split) {
      const head = resample(floats, rate, target.rate, 0, split);
      target.port.postMessage({ type: "audio", samples: head, startMs: at, endMs: splitMs }, [head.buffer]);
      scope.postMessage({ type: "sent", player, at: wall() });
    }
    const rest = resample(floats, rate, target.rate, split);
    target.port.postMessage({ type: "audio", samples: rest, startMs: splitMs, endMs: end }, [rest.buffer]);
    target.nextMs = end;
  }

  scope.onmessage = (/** @type {MessageEvent} */ e) => {
    const m = e.data;
    if (m.type === "connect" && !socket) {
      const ws = new WebSocket(m.url, "v1.kernel.websocket.jupyter.org");
      socket = ws;
      ws.binaryType = "arraybuffer";
      let opened = false;
      ws.onopen = () => {
        if (ws.protocol !== "v1.kernel.websocket.jupyter.org") ws.close(); // an older server: no early path
        else { opened = true; scope.postMessage({ type: "socket", open: true }); }
      };
      ws.onclose = () => {
        socket = null;
        armed.clear();
        begun.clear();
        scope.postMessage({ type: "socket", open: false, opened });
      };
      ws.onmessage = (/** @type {MessageEvent} */ ev) => {
        if (typeof ev.data !== "string") { try { onFrame(ev.data); } catch (_) { /* not for us */ } }
      };
    } else if (m.type === "arm") armed.set(m.player, { port: m.port, rate: m.rate, nextMs: null });
    else if (m.type === "disarm") forget(m.player);
  };
}

/**
 * The AudioWorklet processor "eleven-nb-early": one per armed player, feeding that player's gain node.
 * It plays the pieces the worker sends (on the port it is given: {type: "wire", port}) the moment they
 * arrive, as one run without gaps from the timeline's 0 ms: a piece that does not follow the last one,
 * or that comes after the run has played out, is refused. The page's {type: "claim"} ends the run; the
 * answer {type: "claimed", startedAt, coveredMs, offered} gives the context time of the run's first sample
 * (null: it never played, and never will) and where on the timeline the run ends. A claim may carry the
 * page's own copy of the head ({samples, endMs}): if the worker's run has not started, that plays instead,
 * at once, and the answer (offered: true) comes when it starts; the page's main thread, which got the first
 * chunk before the worker did, need not wait for an answer before it is heard. {type: "cancel"} withdraws a
 * claim not yet answered (the answer: it never played). {type: "stop"} silences it.
 * Once it has played out after a claim, or been stopped, it says {type: "ended"} and stops processing.
 */
export function workletMain() {
  const scope = /** @type {any} */ (globalThis);
  class EarlyVoice extends scope.AudioWorkletProcessor {
    constructor() {
      super();
      /** @type {Float32Array[]} the pieces still to play, the first from `pos` */
      this.pieces = [];
      this.pos = 0;
      this.coveredMs = 0; // the timeline's end of the pieces taken
      /** @type {number | null} */
      this.startedAt = null;
      this.dry = false; // started, then ran out: the run is over
      this.claimed = false;
      this.offered = false; // playing the head the page's claim carried
      this.answered = false;
      this.done = false;
      this.port.onmessage = (/** @type {MessageEvent} */ e) => this.command(e.data);
    }

    /** @param {any} m */
    command(m) {
      if (m.type === "wire") m.port.onmessage = (/** @type {MessageEvent} */ e) => this.command(e.data);
      else if (m.type === "audio") {
        if (this.done || this.dry || this.claimed || Math.abs(m.startMs - this.coveredMs) > 1) return;
        this.pieces.push(m.samples);
        this.coveredMs = m.endMs;
      } else if (m.type === "claim") {
        this.claimed = true;
        if (this.startedAt === null && m.samples instanceof Float32Array && m.samples.length && !this.done) {
          this.pieces = [m.samples]; // the worker's pieces, if any came, were not heard: the page's head plays
          this.pos = 0;
          this.coveredMs = +m.endMs;
          this.offered = true; // answered when it starts (process)
        } else this.answer();
      } else if (m.type === "cancel") {
        if (this.claimed && !this.answered) { this.pieces = []; this.answer(); } // not started: it never plays
      } else if (m.type === "stop") this.finish();
    }

    answer() {
      this.answered = true;
      this.port.postMessage({ type: "claimed", startedAt: this.startedAt, coveredMs: this.coveredMs, offered: this.offered });
      if (this.startedAt === null) { this.done = true; this.pieces = []; } // it never plays
      else if (this.dry) this.finish(); // played out already
    }

    finish() {
      if (this.done) return;
      this.done = true;
      this.pieces = [];
      this.port.postMessage({ type: "ended" });
    }

    /** @param {Float32Array[][]} _inputs @param {Float32Array[][]} outputs */
    process(_inputs, outputs) {
      if (this.done) return false;
      if (!this.pieces.length) return true; // nothing yet (or, after a start, a run that has ended)
      if (this.startedAt === null) {
        this.startedAt = scope.currentTime;
        if (this.offered) this.answer();
      }
      const out = outputs[0][0];
      let filled = 0;
      while (filled < out.length && this.pieces.length) {
        const piece = this.pieces[0];
        const n = Math.min(out.length - filled, piece.length - this.pos);
        out.set(piece.subarray(this.pos, this.pos + n), filled);
        filled += n;
        this.pos += n;
        if (this.pos >= piece.length) { this.pieces.shift(); this.pos = 0; }
      }
      if (!this.pieces.length) {
        this.dry = true; // a gap would move the timeline: the page plays whatever comes next
        if (this.claimed) this.finish();
      }
      return !this.done;
    }
  }
  scope.registerProcessor("eleven-nb-early", EarlyVoice);
}

/** The worker's source: its helpers, then its main. */
export function workerSource() {
  return `const HEAD_SAMPLES = ${HEAD_SAMPLES};\n${splitKernelFrame}\n${resample}\n(${workerMain})();\n`;
}

/** The worklet module's source. */
export function workletSource() {
  return `(${workletMain})();\n`;
}
