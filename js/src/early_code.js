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
 * @returns {{channel: string, offsets: number[]} | null}
 */
export function splitKernelFrame(data) {
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
  const channel = new TextDecoder().decode(new Uint8Array(data, offsets[0], offsets[1] - offsets[0]));
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
 * The Worker. Messages from the page: {type: "connect", url} opens the kernel's WebSocket (read-only:
 * it never sends); {type: "arm", player, port, rate} gives a player's worklet port and the audio
 * context's rate; {type: "disarm", player}. When an armed player's `begin` and then its first chunk
 * (at 0 ms) pass on the socket, the chunk's samples go to that player's worklet, resampled, and the
 * player is disarmed: only the first chunk takes this path. To the page: {type: "socket", open, opened} and
 * {type: "sent", player, at} (wall ms, for the trace).
 */
export function workerMain() {
  const scope = /** @type {any} */ (self);
  const HEAD_SAMPLES = 2048; // about 43 ms at 48 kHz
  const decoder = new TextDecoder();
  /** @type {Map<string, {port: MessagePort, rate: number}>} */
  const armed = new Map();
  /** @type {Map<string, string>} comm id -> player id, from an armed player's begin */
  const begun = new Map();
  /** @type {WebSocket | null} */
  let socket = null;
  const wall = () => performance.timeOrigin + performance.now();
  /** @param {ArrayBuffer} data @param {number[]} o @param {number} k */
  const json = (data, o, k) => JSON.parse(decoder.decode(new Uint8Array(data, o[k], o[k + 1] - o[k])));

  /** @param {ArrayBuffer} data */
  function onFrame(data) {
    const frame = splitKernelFrame(data);
    if (!frame || frame.channel !== "iopub" || !armed.size) return;
    const o = frame.offsets;
    if (json(data, o, 1).msg_type !== "comm_msg") return;
    const content = json(data, o, 4);
    const msg = content?.data?.method === "custom" ? content.data.content : null;
    if (!msg) return;
    if (msg.type === "begin") {
      if (armed.has(msg.player_id)) begun.set(content.comm_id, msg.player_id);
      return;
    }
    const player = msg.type === "chunk" ? begun.get(content.comm_id) : undefined;
    if (player === undefined) return;
    begun.delete(content.comm_id);
    const target = armed.get(player);
    armed.delete(player);
    if (!target || +msg.at_ms !== 0 || o.length < 7 || o[6] - o[5] < 2) return;
    const bytes = data.slice(o[5], o[5] + ((o[6] - o[5]) & ~1));
    const ints = new Int16Array(bytes);
    const floats = new Float32Array(ints.length);
    for (let i = 0; i < ints.length; i++) floats[i] = ints[i] / 32768;
    const rate = +msg.sample_rate || 22050;
    const head = resample(floats, rate, target.rate, 0, HEAD_SAMPLES); // plays while the rest is made
    target.port.postMessage({ type: "audio", samples: head, last: false }, [head.buffer]);
    scope.postMessage({ type: "sent", player, at: wall() });
    const rest = resample(floats, rate, target.rate, HEAD_SAMPLES);
    target.port.postMessage({ type: "audio", samples: rest, last: true }, [rest.buffer]);
  }

  scope.onmessage = (/** @type {MessageEvent} */ e) => {
    const m = e.data;
    if (m.type === "connect" && !socket) {
      const ws = new WebSocket(m.url, "v1.kernel.websocket.jupyter.org");
      socket = ws;
      ws.binaryType = "arraybuffer";
      ws.onopen = () => {
        if (ws.protocol !== "v1.kernel.websocket.jupyter.org") ws.close(); // an older server: no early path
        else { opened = true; scope.postMessage({ type: "socket", open: true }); }
      };
      let opened = false;
      ws.onclose = () => {
        socket = null;
        armed.clear();
        begun.clear();
        scope.postMessage({ type: "socket", open: false, opened });
      };
      ws.onmessage = (/** @type {MessageEvent} */ ev) => {
        if (typeof ev.data !== "string") { try { onFrame(ev.data); } catch (_) { /* not for us */ } }
      };
    } else if (m.type === "arm") armed.set(m.player, { port: m.port, rate: m.rate });
    else if (m.type === "disarm") {
      armed.delete(m.player);
      for (const [comm, player] of begun) if (player === m.player) begun.delete(comm);
    }
  };
}

/**
 * The AudioWorklet processor "eleven-nb-early": one per armed player, feeding that player's gain node.
 * It plays the samples the worker sends (on the port it is given: {type: "wire", port}) the moment they
 * arrive, and answers the page's {type: "claim"} with {type: "claimed", startedAt} (context seconds of
 * its first sample, or null: then it never plays). {type: "stop"} silences it at once. When it has played
 * out or been stopped it says {type: "ended", startedAt} and stops processing.
 */
export function workletMain() {
  const scope = /** @type {any} */ (globalThis);
  class EarlyVoice extends scope.AudioWorkletProcessor {
    constructor() {
      super();
      /** @type {Float32Array[]} the pieces still to play, the first from `pos` */
      this.pieces = [];
      this.pos = 0;
      this.last = false; // the final piece has come
      /** @type {number | null} */
      this.startedAt = null;
      this.claimed = false;
      this.done = false;
      this.port.onmessage = (/** @type {MessageEvent} */ e) => this.command(e.data);
    }

    /** @param {any} m */
    command(m) {
      if (m.type === "wire") m.port.onmessage = (/** @type {MessageEvent} */ e) => this.command(e.data);
      else if (m.type === "audio" && !this.done && !this.last && !(this.claimed && this.startedAt === null)) {
        this.pieces.push(m.samples);
        this.last = !!m.last;
      } else if (m.type === "claim") {
        this.claimed = true;
        this.port.postMessage({ type: "claimed", startedAt: this.startedAt });
        if (this.startedAt === null) { this.done = true; this.pieces = []; } // it never plays
      } else if (m.type === "stop") this.finish();
    }

    finish() {
      if (this.done) return;
      this.done = true;
      this.pieces = [];
      this.port.postMessage({ type: "ended", startedAt: this.startedAt });
    }

    /** @param {Float32Array[][]} _inputs @param {Float32Array[][]} outputs */
    process(_inputs, outputs) {
      if (this.done) return false;
      if (!this.pieces.length) return true; // not come yet (or the rest is late: silence until it comes)
      if (this.startedAt === null) this.startedAt = scope.currentTime;
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
      if (!this.pieces.length && this.last) this.finish();
      return !this.done;
    }
  }
  scope.registerProcessor("eleven-nb-early", EarlyVoice);
}

/** The worker's source: its helpers, then its main. */
export function workerSource() {
  return `${splitKernelFrame}\n${resample}\n(${workerMain})();\n`;
}

/** The worklet module's source. */
export function workletSource() {
  return `(${workletMain})();\n`;
}
