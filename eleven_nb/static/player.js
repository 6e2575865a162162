// eleven_nb player: built from js/src by `npm run build` (do not edit).

// src/clock.js
function rawTime(s) {
  if (s.mode !== "playing" || !s.ctx) return s.anchorMedia;
  return s.anchorMedia + (s.ctx.currentTime - s.anchorCtx) * 1e3;
}
function mediaTime(s) {
  if (s.mode !== "playing" || !s.ctx) return s.anchorMedia;
  const latency = Math.min(0.5, Math.max(0, s.ctx.outputLatency || s.ctx.baseLatency || 0));
  const t = s.anchorMedia + (s.ctx.currentTime - latency - s.anchorCtx) * 1e3;
  return Math.min(Math.max(t, s.anchorMedia), s.contiguousEnd);
}
var GAP_TOLERANCE_MS = 5;
function audioEnds(chunks, streamDone) {
  let end = chunks.length ? chunks[0].at : 0, all = 0;
  for (const c of chunks) {
    if (c.at <= end + GAP_TOLERANCE_MS) end = Math.max(end, c.at + c.dur);
    all = Math.max(all, c.at + c.dur);
  }
  return { buffered: all, gapless: end, contiguous: streamDone ? all : end };
}
function appendEnds(ends, c, streamDone) {
  const buffered = Math.max(ends.buffered, c.at + c.dur);
  const gapless = c.at <= ends.gapless + GAP_TOLERANCE_MS ? Math.max(ends.gapless, c.at + c.dur) : ends.gapless;
  return { buffered, gapless, contiguous: streamDone ? buffered : gapless };
}

// src/debug.js
var FRAME_LOG = 2e4;
function debugLog(on) {
  return {
    on,
    chunksReceived: 0,
    firstChunkAt: null,
    firstScheduledAt: null,
    chunkLog: [],
    lags: [],
    frameAt: [],
    frameMedia: [],
    frameLag: [],
    trace: {},
    early: null,
    firstSoundMs: null
  };
}
function debugWanted(model) {
  return !!model.get("debug") || /** @type {any} */
  globalThis.__ELEVEN_NB_DEBUG === true;
}
function logFrame(d, t, lag) {
  if (!d.on) return;
  if (lag !== null) d.lags.push(lag);
  d.frameAt.push(performance.now());
  d.frameMedia.push(t);
  d.frameLag.push(lag ?? 0);
  if (d.frameAt.length > FRAME_LOG) for (const a of [d.frameAt, d.frameMedia, d.frameLag]) a.splice(0, FRAME_LOG / 2);
}
function logChunk(d, atMs) {
  const now = performance.now();
  d.chunksReceived += 1;
  if (d.firstChunkAt === null) d.firstChunkAt = now;
  if (!d.on) return null;
  const log = { at_ms: atMs, receivedAt: now, scheduledAt: null };
  d.chunkLog.push(log);
  return log;
}
var SOUND = 0.02;
function logSound(d, atMs, samples, rate) {
  if (!d.on || d.firstSoundMs !== null) return;
  for (let i = 0; i < samples.length; i++) {
    if (Math.abs(samples[i]) >= SOUND) {
      d.firstSoundMs = atMs + i / rate * 1e3;
      return;
    }
  }
}
function handles() {
  const g = (
    /** @type {any} */
    globalThis
  );
  return g.__elevenPlayers = g.__elevenPlayers || {};
}

// src/words.js
function wordList() {
  return { words: [], order: [], version: 0 };
}
function addWords(list, added) {
  let outOfOrder = false;
  const made = [];
  if (added.length) list.version++;
  for (const a of added) {
    const w = { lane: a.lane, text: a.text, start: a.start, end: a.end, index: list.words.length };
    list.words.push(w);
    made.push(w);
    const o = list.order;
    if (!o.length || o[o.length - 1].start <= w.start) o.push(w);
    else {
      o.splice(firstAfter(o, w.start), 0, w);
      outOfOrder = true;
    }
  }
  return { words: made, outOfOrder };
}
function growWord(list, index, text, end) {
  const w = list.words[index];
  if (!w) return null;
  list.version++;
  w.text = text;
  w.end = Math.max(w.end, end);
  return w;
}
function firstAfter(order, t) {
  let lo = 0, hi = order.length;
  while (lo < hi) {
    const mid = lo + hi >> 1;
    if (order[mid].start <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
function wordAt(order, t) {
  return firstAfter(order, t) - 1;
}
function alignedEnd(text, alignedChars, hint) {
  let i = 0, seen = 0;
  if (hint && hint.aligned <= alignedChars && text.startsWith(hint.text)) {
    i = hint.index;
    seen = hint.aligned;
  }
  while (i < text.length && seen < alignedChars) {
    if (!/\s/.test(text[i])) seen++;
    i++;
  }
  return { text, aligned: seen, index: i };
}
function pendingTail(text, from, max, afterWords) {
  let tail = text.slice(from, from + 2 * max + 2).replace(/\s+/g, " ");
  if (!afterWords) tail = tail.trimStart();
  if (!tail.trim()) return "";
  return tail.length > max || from + 2 * max + 2 < text.length ? `${tail.slice(0, max)} \u2026` : tail;
}
function nonSpaceCount(text) {
  return text.replace(/\s+/g, "").length;
}
function estimateTotal(bufferedEnd, alignedChars, textChars) {
  const est = alignedChars > 0 && textChars > alignedChars ? bufferedEnd * textChars / alignedChars : bufferedEnd;
  return Math.max(est, bufferedEnd, 1);
}

// src/loop.js
var endHooks = /* @__PURE__ */ new WeakMap();
function onEnded(s, fn) {
  endHooks.set(s, fn);
}
function highlight(s, force) {
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
function checkEnd(s) {
  if (s.mode !== "playing" || Math.max(rawTime(s), s.anchorMedia) < s.contiguousEnd - 1) return;
  if (s.streamDone) {
    s.mode = "ended";
    s.anchorMedia = s.bufferedEnd;
    s.autoplay = false;
    for (const src of s.sources) {
      try {
        src.onended = null;
        src.stop();
      } catch (_) {
      }
    }
    s.sources.clear();
    endHooks.get(s)?.(s);
  } else {
    s.mode = "waiting";
    s.anchorMedia = s.contiguousEnd;
  }
  refresh(s);
}
var WAKE_EARLY_MS = 3;
function frame(s) {
  s.raf = 0;
  checkEnd(s);
  const t = highlight(s, false);
  let next = Infinity;
  for (const v of s.views) next = Math.min(next, v.frame(t));
  if (s.mode !== "playing") return;
  next = Math.min(next, s.list.order[s.current + 1]?.start ?? Infinity);
  const wait = Math.min(next - t, s.contiguousEnd - 1 - rawTime(s));
  if (!(wait > WAKE_EARLY_MS)) wake(s);
  else s.frameTimer = setTimeout(() => {
    s.frameTimer = 0;
    wake(s);
  }, wait - WAKE_EARLY_MS);
}
function wake(s) {
  if (s.frameTimer) {
    clearTimeout(s.frameTimer);
    s.frameTimer = 0;
  }
  if (!s.raf && s.views.size) s.raf = requestAnimationFrame(() => frame(s));
}
function stopFrames(s) {
  if (s.raf) {
    cancelAnimationFrame(s.raf);
    s.raf = 0;
  }
  if (s.frameTimer) {
    clearTimeout(s.frameTimer);
    s.frameTimer = 0;
  }
}
function refresh(s) {
  for (const v of s.views) v.refresh();
  wake(s);
}

// src/context.js
function shared() {
  const g = (
    /** @type {any} */
    globalThis
  );
  return g.__elevenNbAudio = g.__elevenNbAudio || { ctx: null, listeners: /* @__PURE__ */ new Set() };
}
function audioContext() {
  const sh = shared();
  if (!sh.ctx || sh.ctx.state === "closed") {
    const g = (
      /** @type {any} */
      globalThis
    );
    const Ctx = g.AudioContext || g.webkitAudioContext;
    const ctx = (
      /** @type {AudioContext} */
      new Ctx({ latencyHint: "interactive" })
    );
    ctx.addEventListener("statechange", () => {
      for (const fn of [...sh.listeners]) fn();
    });
    sh.ctx = ctx;
  }
  return sh.ctx;
}
function onContextState(fn) {
  const sh = shared();
  sh.listeners.add(fn);
  return () => {
    sh.listeners.delete(fn);
  };
}
function makeBuffer(n, rate) {
  return new AudioBuffer({ length: Math.max(1, n), sampleRate: rate, numberOfChannels: 1 });
}

// src/early_code.js
function splitKernelFrame(data, decoder = new TextDecoder()) {
  if (data.byteLength < 8) return null;
  const view = new DataView(data);
  const n = view.getUint32(0, true);
  if (n < 6 || view.getUint32(4, true) !== 0 || 8 * (n + 1) > data.byteLength) return null;
  const offsets = [];
  for (let i = 0; i < n; i++) {
    const at = view.getUint32(8 * (i + 1), true);
    if (view.getUint32(8 * (i + 1) + 4, true) !== 0 || at > data.byteLength || i && at < offsets[i - 1]) return null;
    offsets.push(at);
  }
  const channel = decoder.decode(new Uint8Array(data, offsets[0], offsets[1] - offsets[0]));
  return { channel, offsets };
}
function resample(input, from, to, begin2 = 0, end = Infinity) {
  const total = from === to ? input.length : Math.round(input.length * to / from);
  const lo = Math.max(0, Math.min(begin2, total)), hi = Math.max(lo, Math.min(end, total));
  if (from === to) return input.slice(lo, hi);
  const lobes = 8, phases = 512;
  const ratio = to / from;
  const cutoff = Math.min(1, ratio);
  const half = Math.ceil(lobes / cutoff);
  const taps = 2 * half;
  const cache = (
    /** @type {any} */
    resample.tables || /** @type {any} */
    (resample.tables = /* @__PURE__ */ new Map())
  );
  const key = `${from}:${to}`;
  let table = cache.get(key);
  if (!table) {
    table = kernelTable();
    cache.set(key, table);
  }
  const out = new Float32Array(hi - lo);
  for (let j = lo; j < hi; j++) {
    const t = j / ratio;
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
    const sinc = (x) => x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
    const table2 = new Float32Array((phases + 1) * taps);
    for (let p = 0; p <= phases; p++) {
      const frac = p / phases;
      let norm = 0;
      for (let k = 0; k < taps; k++) {
        const x = (frac - (k - half + 1)) * cutoff;
        const w = x <= -lobes || x >= lobes ? 0 : sinc(x) * sinc(x / lobes);
        table2[p * taps + k] = w;
        norm += w;
      }
      for (let k = 0; k < taps; k++) table2[p * taps + k] /= norm || 1;
    }
    return table2;
  }
}
var HEAD_SAMPLES = 8192;
function workerMain() {
  const scope = (
    /** @type {any} */
    self
  );
  const MAX_RUN_MS = 2e4;
  const decoder = new TextDecoder();
  const armed2 = /* @__PURE__ */ new Map();
  const begun = /* @__PURE__ */ new Map();
  let socket = null;
  const wall = () => performance.timeOrigin + performance.now();
  const json = (data, o, k) => JSON.parse(decoder.decode(new Uint8Array(data, o[k], o[k + 1] - o[k])));
  function forget(player) {
    armed2.delete(player);
    for (const [comm, p] of begun) if (p === player) begun.delete(comm);
  }
  function onFrame(data) {
    if (!armed2.size) return;
    const frame2 = splitKernelFrame(data, decoder);
    if (!frame2 || frame2.channel !== "iopub") return;
    const o = frame2.offsets;
    if (json(data, o, 1).msg_type !== "comm_msg") return;
    const content = json(data, o, 4);
    const msg = content?.data?.method === "custom" ? content.data.content : null;
    if (!msg) return;
    if (msg.type === "begin") {
      const target2 = armed2.get(msg.player_id);
      if (target2 && target2.nextMs === null) {
        begun.set(content.comm_id, msg.player_id);
        target2.nextMs = 0;
      }
      return;
    }
    const player = msg.type === "chunk" ? begun.get(content.comm_id) : void 0;
    const target = player === void 0 ? void 0 : armed2.get(player);
    if (player === void 0 || !target || target.nextMs === null) return;
    const at = +msg.at_ms, rate = +msg.sample_rate || 22050;
    if (Math.abs(at - target.nextMs) > 1 || at >= MAX_RUN_MS || o.length < 7 || o[6] - o[5] < 2) {
      forget(player);
      return;
    }
    const bytes = data.slice(o[5], o[5] + (o[6] - o[5] & ~1));
    const ints = new Int16Array(bytes);
    const floats = new Float32Array(ints.length);
    for (let i = 0; i < ints.length; i++) floats[i] = ints[i] / 32768;
    const end = at + ints.length / rate * 1e3;
    const first = at === 0;
    const split = first ? Math.min(HEAD_SAMPLES, Math.round(ints.length * target.rate / rate)) : 0;
    const splitMs = at + split / target.rate * 1e3;
    if (split) {
      const head = resample(floats, rate, target.rate, 0, split);
      target.port.postMessage({ type: "audio", samples: head, startMs: at, endMs: splitMs }, [head.buffer]);
      scope.postMessage({ type: "sent", player, at: wall() });
    }
    const rest = resample(floats, rate, target.rate, split);
    target.port.postMessage({ type: "audio", samples: rest, startMs: splitMs, endMs: end }, [rest.buffer]);
    target.nextMs = end;
  }
  scope.onmessage = (e) => {
    const m = e.data;
    if (m.type === "connect" && !socket) {
      const ws = new WebSocket(m.url, "v1.kernel.websocket.jupyter.org");
      socket = ws;
      ws.binaryType = "arraybuffer";
      let opened = false;
      ws.onopen = () => {
        if (ws.protocol !== "v1.kernel.websocket.jupyter.org") ws.close();
        else {
          opened = true;
          scope.postMessage({ type: "socket", open: true });
        }
      };
      ws.onclose = () => {
        socket = null;
        armed2.clear();
        begun.clear();
        scope.postMessage({ type: "socket", open: false, opened });
      };
      ws.onmessage = (ev) => {
        if (typeof ev.data !== "string") {
          try {
            onFrame(ev.data);
          } catch (_) {
          }
        }
      };
    } else if (m.type === "arm") armed2.set(m.player, { port: m.port, rate: m.rate, nextMs: null });
    else if (m.type === "disarm") forget(m.player);
  };
}
function workletMain() {
  const scope = (
    /** @type {any} */
    globalThis
  );
  class EarlyVoice extends scope.AudioWorkletProcessor {
    constructor() {
      super();
      this.pieces = [];
      this.pos = 0;
      this.coveredMs = 0;
      this.startedAt = null;
      this.dry = false;
      this.claimed = false;
      this.offered = false;
      this.answered = false;
      this.done = false;
      this.port.onmessage = (e) => this.command(e.data);
    }
    /** @param {any} m */
    command(m) {
      if (m.type === "wire") m.port.onmessage = (e) => this.command(e.data);
      else if (m.type === "audio") {
        if (this.done || this.dry || this.claimed || Math.abs(m.startMs - this.coveredMs) > 1) return;
        this.pieces.push(m.samples);
        this.coveredMs = m.endMs;
      } else if (m.type === "claim") {
        this.claimed = true;
        if (this.startedAt === null && m.samples instanceof Float32Array && m.samples.length && !this.done) {
          this.pieces = [m.samples];
          this.pos = 0;
          this.coveredMs = +m.endMs;
          this.offered = true;
        } else this.answer();
      } else if (m.type === "cancel") {
        if (this.claimed && !this.answered) {
          this.pieces = [];
          this.answer();
        }
      } else if (m.type === "stop") this.finish();
    }
    answer() {
      this.answered = true;
      this.port.postMessage({ type: "claimed", startedAt: this.startedAt, coveredMs: this.coveredMs, offered: this.offered });
      if (this.startedAt === null) {
        this.done = true;
        this.pieces = [];
      } else if (this.dry) this.finish();
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
      if (!this.pieces.length) return true;
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
        if (this.pos >= piece.length) {
          this.pieces.shift();
          this.pos = 0;
        }
      }
      if (!this.pieces.length) {
        this.dry = true;
        if (this.claimed) this.finish();
      }
      return !this.done;
    }
  }
  scope.registerProcessor("eleven-nb-early", EarlyVoice);
}
function workerSource() {
  return `const HEAD_SAMPLES = ${HEAD_SAMPLES};
${splitKernelFrame}
${resample}
(${workerMain})();
`;
}
function workletSource() {
  return `(${workletMain})();
`;
}

// src/trace.js
function wallNow() {
  return performance.timeOrigin + performance.now();
}
function markStage(d, stage, at) {
  if (d.on && !(stage in d.trace)) d.trace[stage] = at ?? wallNow();
}
function traceTable(stages) {
  const rows = Object.entries(stages).filter(([, t]) => Number.isFinite(t)).sort((a, b) => a[1] - b[1]);
  if (!rows.length) return "";
  const width = Math.max(...rows.map(([k]) => k.length));
  const start = rows[0][1];
  let previous = start;
  return rows.map(([k, t]) => {
    const line = `${k.padEnd(width)}  ${(t - start).toFixed(1).padStart(8)} ms  ${(t - previous).toFixed(1).padStart(7)} ms`;
    previous = t;
    return line;
  }).join("\n");
}

// src/early.js
var RETRY_MS = 5e3;
var CLAIM_TIMEOUT_MS = 40;
var CLAIM_GIVE_UP_MS = 200;
function shared2() {
  const g = (
    /** @type {any} */
    globalThis
  );
  const sh = g.__elevenNbEarly = g.__elevenNbEarly || { kernels: /* @__PURE__ */ new Map(), retryAt: /* @__PURE__ */ new Map(), modules: /* @__PURE__ */ new WeakMap() };
  sh.resample1 ?? (sh.resample1 = resample);
  sh.warmed ?? (sh.warmed = /* @__PURE__ */ new Set());
  return sh;
}
function kernelUrl(model) {
  const kernel = model?.widget_manager?.kernel;
  const settings = kernel?.serverSettings;
  if (!kernel?.id || typeof settings?.wsUrl !== "string") return null;
  const url = new URL(`api/kernels/${encodeURIComponent(kernel.id)}/channels`, settings.wsUrl);
  url.searchParams.set("session_id", `eleven-nb-early-${Math.random().toString(36).slice(2)}`);
  if (settings.token && settings.appendToken !== false) url.searchParams.set("token", settings.token);
  return { id: String(kernel.id), url: url.href };
}
function kernelFor(model) {
  const where = kernelUrl(model);
  if (!where) return null;
  const sh = shared2();
  let k = sh.kernels.get(where.id);
  if (!k && performance.now() < (sh.retryAt.get(where.id) ?? 0)) return null;
  if (!k) {
    const blob = URL.createObjectURL(new Blob([workerSource()], { type: "text/javascript" }));
    let worker;
    try {
      worker = new Worker(blob);
    } catch (_) {
      sh.retryAt.set(where.id, Infinity);
      return null;
    } finally {
      URL.revokeObjectURL(blob);
    }
    const made = (
      /** @type {Kernel} */
      { worker, open: false, players: /* @__PURE__ */ new Map() }
    );
    worker.onmessage = (e) => {
      const m = e.data;
      if (m.type === "socket") {
        made.open = m.open;
        if (!m.open) {
          sh.retryAt.set(where.id, m.opened ? performance.now() + RETRY_MS : Infinity);
          worker.terminate();
          if (sh.kernels.get(where.id) === made) sh.kernels.delete(where.id);
          for (const s of made.players.values()) disarm(s);
        }
      } else if (m.type === "sent") {
        const s = made.players.get(m.player);
        if (!s) return;
        if (s.early?.offered) {
          s.early.workerAt = m.at;
          return;
        }
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
function workletModule(ctx) {
  const sh = shared2();
  let ready = sh.modules.get(ctx);
  if (!ready) {
    const blob = URL.createObjectURL(new Blob([workletSource()], { type: "text/javascript" }));
    ready = ctx.audioWorklet.addModule(blob).finally(() => URL.revokeObjectURL(blob));
    sh.modules.set(ctx, ready);
  }
  return ready;
}
function supported() {
  const g = (
    /** @type {any} */
    globalThis
  );
  return typeof g.Worker === "function" && typeof g.AudioWorkletNode === "function" && typeof g.Blob === "function";
}
function possible(s) {
  return supported() && s.model.get("early_audio") !== false && kernelUrl(s.model) !== null;
}
async function arm(s) {
  if (!!s.early || !possible(s)) return;
  const kernel = kernelFor(s.model);
  if (!kernel || !s.out || !s.ctx) return;
  const placeholder = (
    /** @type {Early} */
    {
      phase: "armed",
      node: (
        /** @type {any} */
        null
      ),
      kernel,
      coveredMs: 0,
      sentAt: null,
      offered: false,
      workerAt: null,
      settle: null
    }
  );
  s.early = placeholder;
  try {
    await workletModule(s.ctx);
  } catch (_) {
    s.early = null;
    return;
  }
  if (s.early !== placeholder || placeholder.phase !== "armed" || !s.out || !s.ctx) return;
  let node;
  try {
    node = new AudioWorkletNode(s.ctx, "eleven-nb-early", { numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1] });
    node.connect(s.out);
  } catch (_) {
    s.early = null;
    return;
  }
  placeholder.node = node;
  node.port.onmessage = (e) => {
    if (e.data.type === "ended") retire(s, placeholder);
  };
  const wire = new MessageChannel();
  node.port.postMessage({ type: "wire", port: wire.port2 }, [wire.port2]);
  kernel.players.set(s.id, s);
  kernel.worker.postMessage({ type: "arm", player: s.id, port: wire.port1, rate: s.ctx.sampleRate }, [wire.port1]);
  warmResampler(Number(s.model.get("sample_rate")) || 22050, s.ctx.sampleRate);
}
function warmResampler(from, to) {
  const sh = shared2(), key = `${from}:${to}`;
  if (sh.warmed.has(key)) return;
  sh.warmed.add(key);
  const g = (
    /** @type {any} */
    globalThis
  );
  const warm = () => {
    for (let i = 0; i < 2; i++) sh.resample1(new Float32Array(1024), from, to, 0, 2048);
  };
  if (typeof g.requestIdleCallback === "function") g.requestIdleCallback(warm, { timeout: 100 });
  else setTimeout(warm, 0);
}
function unplug(e) {
  if (e.node) {
    e.node.port.onmessage = null;
    e.node.disconnect();
  }
}
function retire(s, e) {
  e.phase = "off";
  e.settle?.(null);
  unplug(e);
  e.kernel.worker.postMessage({ type: "disarm", player: s.id });
  if (e.kernel.players.get(s.id) === s) e.kernel.players.delete(s.id);
  if (s.early === e) s.early = null;
}
function armed(s) {
  return s.early?.phase === "armed";
}
function claiming(s) {
  return s.early?.phase === "claiming";
}
function disarm(s) {
  const e = s.early;
  if (!e) return;
  if (e.node && e.phase !== "off") e.node.port.postMessage({ type: "stop" });
  retire(s, e);
}
function coveredMs(s) {
  const e = s.early;
  return e && e.phase === "playing" ? e.coveredMs : 0;
}
function claim(s, playedOut, first = null) {
  const e = s.early;
  if (!e || e.phase !== "armed" || !e.node || !s.ctx || s.ctx.state !== "running") {
    if (e) disarm(s);
    return Promise.resolve(null);
  }
  e.phase = "claiming";
  e.kernel.worker.postMessage({ type: "disarm", player: s.id });
  const head = first && e.sentAt === null ? headOf(first, s.ctx.sampleRate) : null;
  const offeredAt = wallNow();
  e.offered = !!head;
  return new Promise((resolve) => {
    let giveUp;
    const cancel = setTimeout(() => {
      if (e.phase !== "claiming") return;
      e.node.port.postMessage({ type: "cancel" });
      giveUp = setTimeout(() => {
        if (e.phase !== "claiming") return;
        markStage(s.debug, "browser: early voice did not answer the claim");
        disarm(s);
      }, CLAIM_GIVE_UP_MS - CLAIM_TIMEOUT_MS);
    }, CLAIM_TIMEOUT_MS);
    e.settle = (run) => {
      clearTimeout(cancel);
      clearTimeout(giveUp);
      e.settle = null;
      resolve(run);
    };
    e.node.port.onmessage = (ev) => {
      const m = ev.data;
      if (m.type === "claimed") {
        if (m.startedAt === null || e.phase !== "claiming") {
          retire(s, e);
          return;
        }
        if (m.offered) {
          e.sentAt = offeredAt;
          markStage(s.debug, "browser: first chunk to the worklet (main thread)", offeredAt);
        } else if (e.workerAt !== null) {
          e.sentAt = e.workerAt;
          markStage(s.debug, "browser: first chunk to the worklet (worker)", e.workerAt);
        }
        e.phase = "playing";
        e.coveredMs = +m.coveredMs;
        e.settle?.({ startedAt: +m.startedAt, coveredMs: e.coveredMs });
      } else if (m.type === "ended") {
        unplug(e);
        playedOut();
      }
    };
    if (head) e.node.port.postMessage({ type: "claim", samples: head.samples, endMs: head.endMs }, [head.samples.buffer]);
    else e.node.port.postMessage({ type: "claim" });
  });
}
function headOf(first, to) {
  const split = Math.min(HEAD_SAMPLES, Math.round(first.samples.length * to / first.rate));
  return { samples: shared2().resample1(first.samples, first.rate, to, 0, split), endMs: split / to * 1e3 };
}
function handedOverAt(s, ctx, t0) {
  return s.early?.sentAt ?? contextToWall(ctx, t0);
}
function contextToWall(ctx, t) {
  return wallNow() - (ctx.currentTime - t) * 1e3;
}

// src/queue.js
function page() {
  const g = (
    /** @type {any} */
    globalThis
  );
  return g.__elevenNbQueues = g.__elevenNbQueues || { members: /* @__PURE__ */ new Map(), seq: 0 };
}
function register(m, p = page()) {
  p.members.set(m.id, m);
}
function unregister(m, p = page()) {
  if (p.members.get(m.id) === m) p.members.delete(m.id);
  pump(p);
}
function join(m, interrupt, p = page()) {
  m.seq = ++p.seq;
  m.urgent = interrupt;
  for (const x of p.members.values()) {
    if (x === m || !(x.pending() || x.audible())) continue;
    if (interrupt && x.queueId === m.queueId || x.orphaned?.()) x.silence("interrupted");
  }
  pump(p);
}
function othersAudible(m, p) {
  for (const x of p.members.values()) if (x !== m && x.audible()) return true;
  return false;
}
function waiting(m, p = page()) {
  if (othersAudible(m, p)) return true;
  if (!m.seq) return false;
  for (const x of p.members.values()) {
    if (x !== m && x.queueId === m.queueId && x.seq && x.seq < m.seq && x.pending()) return true;
  }
  return false;
}
function pump(p = page()) {
  const heads = /* @__PURE__ */ new Map();
  const loose = [];
  for (const m of p.members.values()) {
    if (!m.seq) {
      loose.push(m);
      continue;
    }
    if (!m.pending()) continue;
    const h2 = heads.get(m.queueId);
    if (!h2 || m.seq < h2.seq) heads.set(m.queueId, m);
  }
  const order = [...heads.values()].sort((a, b) => Number(!!b.urgent) - Number(!!a.urgent) || a.seq - b.seq);
  for (const m of [...order, ...loose]) {
    if (m.wants() && !othersAudible(m, p)) {
      m.urgent = false;
      m.play();
    }
  }
  settle(p);
}
function settle(p) {
  for (const m of p.members.values()) m.settle?.();
}
function idleFor(m, p = page()) {
  for (const x of p.members.values()) {
    if (x === m) continue;
    if (x.audible() || x.queueId === m.queueId && x.seq && (!m.seq || x.seq < m.seq) && x.pending()) return false;
  }
  return true;
}
function handStart(m, p = page()) {
  for (const x of p.members.values()) if (x !== m && x.audible()) x.silence("paused");
  m.play();
  settle(p);
}

// src/playback.js
var LEAD_S = 0.012;
var BLOCKED_AFTER_MS = 300;
function ensureAudio(s) {
  const ctx = audioContext();
  if (s.ctx !== ctx) {
    s.ctx = ctx;
    s.out = ctx.createGain();
    s.out.connect(ctx.destination);
  }
  return ctx;
}
function audible(s) {
  return s.mode === "playing" || s.mode === "waiting";
}
function due(s) {
  return s.mode === "idle" && (memberOf(s).wants() || claiming(s) && !s.userPaused && !s.terminal);
}
function stopSources(s, keepArmed = false) {
  const covered = coveredMs(s);
  if (covered && s.debug.early && s.ctx) s.debug.early.end = Math.min(s.debug.early.end, Math.max(s.debug.early.begin, s.ctx.currentTime));
  if (!(keepArmed && armed(s))) disarm(s);
  for (const src of s.sources) {
    try {
      src.onended = null;
      src.stop();
    } catch (_) {
    }
  }
  s.sources.clear();
}
function schedule(s, c) {
  const from = Math.max(s.anchorMedia, coveredMs(s), c.at);
  const offset = from - c.at;
  if (offset >= c.dur - 0.01 || !c.buffer || !s.ctx || !s.out) return;
  const src = s.ctx.createBufferSource();
  src.buffer = c.buffer;
  src.connect(s.out);
  const when = s.anchorCtx + (from - s.anchorMedia) / 1e3;
  src.start(when, offset / 1e3);
  if (s.debug.on && !coveredMs(s) && !("browser: first source start" in s.debug.trace)) {
    const at = wallNow();
    markStage(s.debug, "browser: first source start", at);
    markStage(s.debug, "browser: first audio due (scheduled time)", at + (when - s.ctx.currentTime) * 1e3);
  }
  src.onended = () => {
    s.sources.delete(src);
    if (!s.sources.size) checkEnd(s);
  };
  s.sources.add(src);
  const now = performance.now();
  if (s.debug.firstScheduledAt === null) s.debug.firstScheduledAt = now;
  if (c.log && c.log.scheduledAt === null) c.log.scheduledAt = now;
}
function startFrom(s, ms) {
  const ctx = ensureAudio(s);
  stopSources(s);
  s.anchorMedia = Math.max(0, Math.min(ms, s.contiguousEnd));
  s.anchorCtx = ctx.currentTime + LEAD_S;
  s.mode = "playing";
  s.userPaused = false;
  for (const c of s.chunks) schedule(s, c);
  if (ctx.state !== "running") watchBlocked(s);
  wake(s);
  refresh(s);
}
function adoptEarly(s, t0, coveredMs2) {
  const ctx = ensureAudio(s);
  if (t0 + coveredMs2 / 1e3 > ctx.currentTime + LEAD_S) {
    s.anchorMedia = 0;
    s.anchorCtx = t0;
  } else {
    s.anchorMedia = coveredMs2;
    s.anchorCtx = ctx.currentTime + LEAD_S;
  }
  s.mode = "playing";
  s.autoplay = true;
  s.userPaused = false;
  if (s.debug.on) {
    s.debug.early = { begin: t0, end: t0 + coveredMs2 / 1e3 };
    markStage(s.debug, "browser: first audio started (worklet, context clock)", contextToWall(ctx, t0));
    if (s.debug.firstScheduledAt === null) s.debug.firstScheduledAt = handedOverAt(s, ctx, t0) - performance.timeOrigin;
  }
  for (const c of s.chunks) schedule(s, c);
  wake(s);
  refresh(s);
}
function wouldPlayAtOnce(s) {
  return !s.kernelGone && !s.chunks.length && (s.kernel === "idle" || s.kernel === "connecting") && !s.terminal && !s.userPaused && idleFor(memberOf(s));
}
function settleEarly(s) {
  if (wouldPlayAtOnce(s)) {
    if (armed(s) || claiming(s) || !possible(s)) return;
    try {
      ensureAudio(s);
    } catch (_) {
      return;
    }
    arm(s);
  } else if (armed(s)) disarm(s);
}
function scheduleArrival(s, c, before) {
  if (s.mode === "playing") {
    if (rawTime(s) > c.at + 1) startFrom(s, Math.min(rawTime(s), before));
    else schedule(s, c);
  } else if (s.mode === "waiting") startFrom(s, s.anchorMedia);
}
function watchBlocked(s) {
  const ctx = s.ctx;
  if (!ctx) return;
  ctx.resume().catch(() => {
  });
  clearTimeout(s.blockTimer);
  s.blockTimer = /** @type {any} */
  setTimeout(() => {
    if (ctx.state !== "running" && audible(s)) {
      s.blocked = true;
      refresh(s);
    }
  }, BLOCKED_AFTER_MS);
}
function unlock(s) {
  const ctx = ensureAudio(s);
  if (ctx.state !== "running") ctx.resume().then(() => {
    s.blocked = false;
    refresh(s);
  }, () => {
  });
}
function pause(s, byUser) {
  if (audible(s)) s.anchorMedia = mediaTime(s);
  if (s.mode !== "idle" || byUser) s.mode = "paused";
  if (byUser) {
    s.userPaused = true;
    s.autoplay = false;
  }
  stopSources(s);
  highlight(s, true);
  refresh(s);
}
function seek(s, ms) {
  const target = Math.max(0, Math.min(ms, s.contiguousEnd));
  if (audible(s)) startFrom(s, target);
  else {
    s.anchorMedia = target;
    if (s.mode === "ended") s.mode = "paused";
  }
  highlight(s, true);
  refresh(s);
}
function playByHand(s, ms) {
  unlock(s);
  if (!s.chunks.length) return;
  let from = ms ?? s.anchorMedia;
  if (ms === void 0 && s.streamDone && from >= s.contiguousEnd - 1) from = 0;
  s.terminal = "";
  s.autoplay = true;
  s.anchorMedia = Math.max(0, Math.min(from, s.contiguousEnd));
  if (s.mode === "ended") s.mode = "paused";
  handStart(memberOf(s));
  highlight(s, true);
}
function togglePlay(s) {
  unlock(s);
  if (audible(s)) {
    pause(s, true);
    pump();
  } else playByHand(s);
}
function stopByUser(s) {
  silence(s, "stopped");
  s.anchorMedia = 0;
  highlight(s, true);
  refresh(s);
  pump();
}
function silence(s, reason) {
  pause(s, false);
  if (reason === "paused") return;
  s.terminal = reason;
  s.autoplay = false;
  refresh(s);
}
var members = /* @__PURE__ */ new WeakMap();
var unsubscribe = /* @__PURE__ */ new WeakMap();
function memberOf(s) {
  let m = members.get(s);
  if (!m) {
    m = {
      id: s.id,
      queueId: s.queueId,
      seq: 0,
      audible: () => audible(s),
      pending: () => !!m?.seq && !s.terminal && s.mode !== "ended" && !(s.streamDone && !s.chunks.length),
      wants: () => s.autoplay && !s.userPaused && !s.terminal && s.chunks.length > 0 && (s.mode === "idle" || s.mode === "paused") && s.anchorMedia < s.contiguousEnd - 1,
      play: () => {
        unlock(s);
        startFrom(s, s.anchorMedia);
      },
      silence: (reason) => silence(s, reason),
      settle: () => settleEarly(s),
      orphaned: () => s.kernelGone
    };
    members.set(s, m);
    onEnded(s, () => pump());
    unsubscribe.set(s, onContextState(() => {
      if (s.ctx && s.ctx.state === "running" && s.blocked) {
        s.blocked = false;
        refresh(s);
      }
    }));
    register(m);
  }
  return m;
}
function release(s) {
  stopSources(s);
  clearTimeout(s.blockTimer);
  stopFrames(s);
  unsubscribe.get(s)?.();
  const m = members.get(s);
  if (m) unregister(m);
}

// src/state.js
function freshStream(debugOn) {
  return {
    chunks: [],
    contiguousEnd: 0,
    gaplessEnd: 0,
    bufferedEnd: 0,
    list: wordList(),
    alignedChars: 0,
    seenLanes: [],
    begunLanes: null,
    streamDone: false,
    mode: "idle",
    userPaused: false,
    autoplay: false,
    terminal: "",
    anchorMedia: 0,
    anchorCtx: 0,
    current: -1,
    debug: debugLog(debugOn)
  };
}
function createPlayer(id, model, debugOn) {
  return Object.assign(freshStream(debugOn), {
    id,
    model,
    queueId: String(model.get("queue_id") || ""),
    wantsNow: false,
    ctx: null,
    out: null,
    sources: /* @__PURE__ */ new Set(),
    views: /* @__PURE__ */ new Set(),
    raf: 0,
    frameTimer: 0,
    blocked: false,
    blockTimer: 0,
    text: String(model.get("text") || ""),
    kernel: String(model.get("status") || "idle"),
    kernelMessage: String(model.get("status_message") || ""),
    kernelGone: false,
    early: null
  });
}
function lanesOf(s) {
  const declared = (s.begunLanes || s.model.get("lanes") || []).map((l) => ({ id: String(l.id), label: String(l.label ?? l.id) }));
  for (const id of s.seenLanes) if (!declared.some((l) => l.id === id)) declared.push({ id, label: id });
  return declared;
}
function labelOf(s, lane) {
  return lanesOf(s).find((l) => l.id === lane)?.label ?? lane;
}
var LANE_COLORS = 6;
function colorSlot(index) {
  return Math.max(0, index) % LANE_COLORS;
}
function colorOf(s, lane) {
  return colorSlot(lanesOf(s).findIndex((l) => l.id === lane));
}

// src/pcm.js
function asDataView(data) {
  if (!data) return new DataView(new ArrayBuffer(0));
  if (data instanceof DataView) return data;
  if (data instanceof ArrayBuffer) return new DataView(data);
  return new DataView(data.buffer, data.byteOffset, data.byteLength);
}
function int16ToFloat(view, out) {
  const n = view.byteLength >> 1;
  const f = out || new Float32Array(n);
  if (view.byteOffset % 2 === 0) {
    const s = new Int16Array(view.buffer, view.byteOffset, n);
    for (let i = 0; i < n; i++) f[i] = s[i] / 32768;
  } else {
    for (let i = 0; i < n; i++) f[i] = view.getInt16(2 * i, true) / 32768;
  }
  return f;
}
function wavFile(pieces, rate) {
  const total = pieces.reduce((n, p) => Math.max(n, p.startSample + p.samples.length), 0);
  const out = new ArrayBuffer(44 + 2 * total);
  const head = new DataView(out);
  const pcm = new Int16Array(out, 44, total);
  for (const p of pieces) {
    const s = p.samples;
    for (let i = 0; i < s.length; i++) pcm[p.startSample + i] = Math.max(-32768, Math.min(32767, Math.round(s[i] * 32768)));
  }
  const ascii = (at, str) => {
    for (let i = 0; i < str.length; i++) head.setUint8(at + i, str.charCodeAt(i));
  };
  ascii(0, "RIFF");
  head.setUint32(4, 36 + 2 * total, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  head.setUint32(16, 16, true);
  head.setUint16(20, 1, true);
  head.setUint16(22, 1, true);
  head.setUint32(24, rate, true);
  head.setUint32(28, rate * 2, true);
  head.setUint16(32, 2, true);
  head.setUint16(34, 16, true);
  ascii(36, "data");
  head.setUint32(40, 2 * total, true);
  return out;
}

// src/stream.js
function setEnds(s, ends) {
  s.bufferedEnd = ends.buffered;
  s.gaplessEnd = ends.gapless;
  s.contiguousEnd = ends.contiguous;
}
function recomputeEnds(s) {
  setEnds(s, audioEnds(s.chunks, s.streamDone));
}
function makeChunk(lane, at, bytes, rate) {
  const n = bytes.byteLength >> 1;
  let buffer = null, samples;
  if (n && typeof AudioBuffer !== "undefined") {
    buffer = makeBuffer(n, rate);
    samples = int16ToFloat(bytes, buffer.getChannelData(0));
  } else samples = int16ToFloat(bytes);
  return { lane, at, rate, buffer, samples, dur: n / rate * 1e3, log: null };
}
function insertChunk(s, c) {
  let i = s.chunks.length;
  while (i > 0 && s.chunks[i - 1].at > c.at) i--;
  s.chunks.splice(i, 0, c);
  if (i > 0 && i === s.chunks.length - 1) setEnds(s, appendEnds({ buffered: s.bufferedEnd, gapless: s.gaplessEnd }, c, s.streamDone));
  else recomputeEnds(s);
}
function seeLane(s, lane) {
  if (!s.seenLanes.includes(lane)) s.seenLanes.push(lane);
}
function registerWords(s, words) {
  for (const w of words) seeLane(s, w.lane);
  const { words: made, outOfOrder } = addWords(s.list, words);
  for (const v of s.views) v.addWords(made);
  if (outOfOrder) {
    s.current = -1;
    for (const v of s.views) v.restyle();
    highlight(s, true);
  }
}
function onChunk(s, msg, bytes) {
  markStage(s.debug, "browser: first chunk received");
  const lane = String(msg.lane ?? "speech");
  const at = +msg.at_ms || 0;
  seeLane(s, lane);
  const before = s.contiguousEnd;
  const c = makeChunk(lane, at, bytes, +msg.sample_rate || 22050);
  markStage(s.debug, "browser: first chunk in an AudioBuffer");
  c.log = logChunk(s.debug, at);
  logSound(s.debug, at, c.samples, c.rate);
  insertChunk(s, c);
  const grow = msg.grow;
  if (grow && typeof grow === "object") {
    const w = growWord(s.list, +grow.index, String(grow.text), +grow.end_ms);
    if (w) for (const v of s.views) v.growWord(w);
  }
  registerWords(s, (msg.words || []).map((w) => ({ lane, text: String(w.text), start: +w.start_ms, end: +w.end_ms })));
  if (Number.isFinite(+msg.aligned_chars)) s.alignedChars = +msg.aligned_chars;
  if (c.buffer) {
    if (claiming(s)) {
    } else if (armed(s) && c.at === 0 && !audible(s)) {
      const stream = s.chunks;
      claim(s, () => checkEnd(s), { samples: c.samples, rate: c.rate }).then((run) => {
        if (s.chunks === stream) claimed(s, run);
      });
    } else if (audible(s)) scheduleArrival(s, c, before);
    else playWhenDue(s);
  }
  for (const v of s.views) v.setText();
  wake(s);
  refresh(s);
}
function playWhenDue(s) {
  if (s.mode !== "idle" || s.userPaused || s.terminal) return;
  s.autoplay = true;
  if (s.wantsNow) {
    s.wantsNow = false;
    playByHand(s, 0);
  } else pump();
}
function claimed(s, run) {
  markStage(s.debug, run === null ? "browser: early voice had not started" : "browser: early voice claimed");
  if (run !== null) {
    if (s.mode === "idle" && !s.userPaused && !s.terminal && idleFor(memberOf(s))) {
      adoptEarly(s, run.startedAt, run.coveredMs);
      pump();
      return;
    }
    disarm(s);
  }
  if (!audible(s)) playWhenDue(s);
}
function endStream(s) {
  if (s.streamDone) return;
  s.streamDone = true;
  recomputeEnds(s);
  if (s.mode === "waiting") s.mode = "playing";
  checkEnd(s);
  pump();
}
function begin(s, msg) {
  stopSources(s, true);
  const wantsNow = s.wantsNow;
  const earlier = s.debug.trace;
  Object.assign(s, freshStream(s.debug.on));
  if (!("browser: begin received" in earlier)) Object.assign(s.debug.trace, earlier);
  markStage(s.debug, "browser: begin received");
  s.wantsNow = wantsNow;
  s.kernel = "connecting";
  s.kernelMessage = "";
  if (typeof msg.text === "string") s.text = msg.text;
  if (Array.isArray(msg.lanes)) s.begunLanes = msg.lanes;
  for (const v of s.views) v.reset();
  join(memberOf(s), !!msg.interrupt);
  for (const v of s.views) v.setText();
  refresh(s);
}
function onMessage(s, msg, buffers) {
  if (!msg || typeof msg !== "object") return;
  switch (msg.type) {
    case "begin":
      begin(s, msg);
      break;
    case "chunk":
      onChunk(s, msg, asDataView(buffers && buffers[0]));
      break;
    case "text":
      s.text += String(msg.text ?? "");
      for (const v of s.views) v.setText();
      break;
    case "status":
      setKernelStatus(s, String(msg.status), String(msg.message || ""));
      break;
    case "trace":
      for (const [k, t] of Object.entries(msg.stages || {})) markStage(s.debug, k, +t);
      refresh(s);
      break;
    case "stop":
      silence(s, "interrupted");
      pump();
      break;
    default:
      break;
  }
}
function kernelLost(s) {
  s.kernelGone = true;
  if (s.kernel !== "connecting" && s.kernel !== "streaming") {
    refresh(s);
    return;
  }
  s.kernel = "lost";
  s.kernelMessage = "";
  endStream(s);
  for (const v of s.views) v.setText();
  refresh(s);
}
function setKernelStatus(s, status, message) {
  s.kernel = status;
  s.kernelMessage = message;
  if (status === "done" || status === "error") endStream(s);
  for (const v of s.views) v.setText();
  refresh(s);
}
function restore(s) {
  const words = s.model.get("words") || [];
  if (s.chunks.length || s.list.words.length || !words.length) return;
  const bytes = asDataView(s.model.get("audio"));
  if (bytes.byteLength >= 2) insertChunk(s, makeChunk("speech", 0, bytes, s.model.get("sample_rate") || 22050));
  registerWords(s, words.map((w) => ({
    lane: String(w.lane ?? "speech"),
    text: String(w.text),
    start: +w.start_ms,
    end: +w.end_ms
  })));
  s.alignedChars = s.list.words.reduce((n, w) => n + nonSpaceCount(w.text), 0);
  endStream(s);
}

// src/dom.js
function h(tag, cls, text) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text !== void 0) el.textContent = text;
  return el;
}
function button(cls, text, label) {
  const b = h("button", `enb-btn ${cls}`, text);
  b.type = "button";
  b.title = label;
  b.setAttribute("aria-label", label);
  return b;
}
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}
function setData(el, key, value) {
  if (el.dataset[key] !== value) el.dataset[key] = value;
}
function setAttr(el, name, value) {
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}
function setProp(el, name, value) {
  if (el[name] !== value) el[name] = value;
}

// src/format.js
var CLOCK_STEP_MS = 100;
function nextStep(t, step) {
  return (Math.floor(t / step + 0.5) + 0.5) * step;
}
function clock(ms) {
  const tenths = Math.round(Math.max(0, ms) / CLOCK_STEP_MS);
  return `${Math.floor(tenths / 600)}:${(tenths % 600 / 10).toFixed(1).padStart(4, "0")}`;
}
function sig2(x) {
  return String(Number(x.toPrecision(2)));
}
function readout(m) {
  const parts = [];
  if (m.ttfa_ms != null) parts.push(`first audio ${Math.round(m.ttfa_ms)} ms`);
  if (m.rtf != null && Number.isFinite(+m.rtf)) {
    const rtf = +m.rtf;
    parts.push(rtf > 0 && rtf < 1 ? `RTF ${sig2(rtf)} (\xD7${sig2(1 / rtf).replace(/\.\d+$/, "")} real time)` : `RTF ${sig2(rtf)}`);
  }
  if (m.audio_ms != null) parts.push(`${(m.audio_ms / 1e3).toFixed(1)} s audio`);
  return parts.join(" \xB7 ");
}
function tickLabel(ms, step) {
  const secs = ms / 1e3;
  if (step < 1e3) return secs.toFixed(1);
  return `${Math.floor(secs / 60)}:${String(Math.floor(secs % 60)).padStart(2, "0")}`;
}
var STEPS = [500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5];
var MIN_GAP_PX = 60;
var LABEL_PX = 36;
function axisTicks(totalMs, width) {
  if (!(width > 0) || !(totalMs > 0)) return [];
  const scale = width / totalMs;
  const step = STEPS.find((ms) => ms * scale >= MIN_GAP_PX) || STEPS[STEPS.length - 1];
  const ticks = [];
  for (let ms = 0; ms * scale <= width - 2 * LABEL_PX; ms += step) {
    ticks.push({ x: Math.round(ms * scale) + 0.5, label: tickLabel(ms, step), align: "left" });
  }
  ticks.push({ x: width - 0.5, label: clock(totalMs), align: "right" });
  return ticks;
}
var LOST = "kernel stopped: speech incomplete";
var STATUS_TEXT = {
  idle: "ready",
  queued: "queued",
  connecting: "connecting\u2026",
  streaming: "streaming",
  buffering: "buffering\u2026",
  playing: "playing",
  paused: "paused",
  done: "done",
  stopped: "stopped",
  interrupted: "interrupted",
  error: "error",
  incomplete: LOST
};
function statusLine(p) {
  const status = deriveStatus(p);
  let text = STATUS_TEXT[status] || status;
  if (status === "error") text = `error: ${p.message || "unknown error"}`;
  else if (p.kernel === "lost") text = status === "incomplete" ? LOST : `${text} \xB7 ${LOST}`;
  else if (p.message && p.message !== text && p.kernel !== "error" && status !== "buffering") text = `${text}: ${p.message}`;
  return { status: status === "buffering" ? "streaming" : status, text };
}
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

// src/controls.js
function controlsView(s) {
  const play = button("enb-play", "\u25B6", "Play");
  const stop = button("enb-stop", "\u25A0", "Stop");
  const time = h("span", "enb-clock");
  const timeText = h("span", "enb-clock-text", "0:00.0 / 0:00.0");
  time.append(timeText);
  const status = h("span", "enb-status");
  status.setAttribute("role", "status");
  const endpoint = h("span", "enb-endpoint");
  const meter = h("span", "enb-readout");
  meter.title = "Time to first audio and real-time factor (synthesis time \xF7 audio length)";
  const again = button("enb-again", "\u21BB Speak again", "Speak the cell again");
  const wav = button("enb-wav", "\u2913 WAV", "Download the audio (WAV)");
  const vtt = button("enb-vtt", "\u2913 VTT", "Download the captions (WebVTT)");
  const bar = h("div", "enb-bar");
  bar.append(play, stop, time, status, endpoint, meter, again, wav, vtt);
  const unlockBtn = button("enb-unlock", "\u{1F507} The browser blocked audio. Click to enable audio.", "Click to enable audio");
  unlockBtn.hidden = true;
  let shownClock = "";
  return {
    bar,
    unlockBtn,
    play,
    stop,
    again,
    wav,
    vtt,
    /** The clock at `t`; gives when its tenth of a second changes. @param {number} t @param {number} total */
    frame(t, total) {
      const text = `${clock(t)} / ${clock(s.streamDone ? s.bufferedEnd : total)}`;
      if (text !== shownClock) {
        timeText.textContent = text;
        shownClock = text;
      }
      return nextStep(t, CLOCK_STEP_MS);
    },
    /** @param {HTMLElement} root */
    refresh(root) {
      const playing = audible(s);
      setText(play, playing ? "\u275A\u275A" : "\u25B6");
      setAttr(play, "aria-label", playing ? "Pause" : "Play");
      setProp(play, "title", playing ? "Pause (space)" : "Play (space)");
      setProp(play, "disabled", !s.chunks.length);
      setProp(stop, "disabled", !s.chunks.length);
      setProp(unlockBtn, "hidden", !s.blocked);
      const m = memberOf(s);
      const line = statusLine({
        kernel: s.kernel,
        message: s.kernelMessage,
        mode: s.mode,
        terminal: s.terminal,
        queued: !playing && (m.pending() || s.autoplay) && waiting(m),
        due: due(s)
      });
      setText(status, line.text);
      setData(status, "status", line.status);
      setData(root, "status", line.status);
      setData(root, "mode", s.blocked ? "blocked" : s.mode);
      const label = String(s.model.get("endpoint_label") || "");
      if (endpoint.textContent !== label) {
        endpoint.textContent = label;
        endpoint.title = label ? `Speaking through ${label}` : "";
      }
      setProp(endpoint, "hidden", !label);
      setText(meter, readout(s.model.get("metrics") || {}));
      const kernelIdle = s.kernel === "done" || s.kernel === "error" || s.kernel === "idle";
      setProp(again, "disabled", !kernelIdle || s.kernelGone);
      setProp(wav, "disabled", !s.chunks.length);
      setProp(vtt, "disabled", !s.model.get("captions"));
      setProp(vtt, "title", vtt.disabled ? "Captions (WebVTT): ready when the speech is complete" : "Download the captions (WebVTT)");
    },
    /** The position shown by keyboard seeks. */
    now: () => mediaTime(s)
  };
}

// src/downloads.js
function wavBlob(s) {
  const rate = s.chunks[0]?.rate || s.model.get("sample_rate") || 22050;
  const pieces = s.chunks.map((c) => ({ startSample: Math.round(c.at * rate / 1e3), samples: c.samples }));
  return new Blob([wavFile(pieces, rate)], { type: "audio/wav" });
}
function captions(s) {
  return String(s.model.get("captions") || "");
}
function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.style.display = "none";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1e4);
}

// src/blocks.js
function wordRuns(order, current, scale, laneOf) {
  const runs = [];
  const open = /* @__PURE__ */ new Map();
  for (let p = 0; p < order.length; p++) {
    const word = order[p];
    const { row, color } = laneOf(word.lane);
    const solid = p <= current;
    const isCurrent = p === current;
    const x = word.start * scale;
    const w = Math.max(1, (word.end - word.start) * scale - 1);
    const last = open.get(row);
    if (last && !isCurrent && !last.current && last.color === color && last.solid === solid && x - (last.x + last.w) < 1) {
      last.w = Math.max(last.w, x + w - last.x);
      continue;
    }
    const run = { row, color, solid, x, w, current: isCurrent };
    runs.push(run);
    open.set(row, run);
  }
  return runs;
}

// src/timeline.js
var ROW_H = 16;
var ROW_GAP = 4;
var AXIS_H = 16;
var HEAD_STEPS_PER_PX = 2;
var BAR_STEPS = 1e3;
function timelineView(s, wake2) {
  const root = h("div", "enb-timeline");
  const labels = h("div", "enb-labels");
  const track = h("div", "enb-track");
  const progress = h("div", "enb-progress");
  const buffered = h("div", "enb-buffered");
  const played = h("div", "enb-played");
  progress.append(buffered, played);
  const canvas = h("canvas", "enb-canvas");
  const playhead = h("div", "enb-playhead");
  track.append(progress, canvas, playhead);
  root.append(labels, track);
  root.title = "Click to play from here";
  let width = 0, dirty = true, laneKey = "";
  let countedText = "", textChars = 0;
  const shown = { played: -1, head: -1, buffered: -1 };
  let colors = null;
  let drawn = [];
  let drawnColors = null;
  const resize = new ResizeObserver((entries) => {
    const w = Math.round(entries[0].contentRect.width);
    if (w !== width) {
      width = w;
      dirty = true;
      wake2();
    }
  });
  resize.observe(track);
  canvas.addEventListener("contextrestored", () => {
    drawn = [];
    dirty = true;
    wake2();
  });
  function total() {
    if (s.streamDone || lanesOf(s).length > 1) return Math.max(s.bufferedEnd, 1);
    if (countedText !== s.text) {
      countedText = s.text;
      textChars = nonSpaceCount(s.text);
    }
    return estimateTotal(s.bufferedEnd, s.alignedChars, textChars);
  }
  function readColors(themed) {
    const cs = getComputedStyle(themed);
    const v = (name, fallback) => cs.getPropertyValue(name).trim() || fallback;
    const lanes = [];
    for (let i = 0; i < LANE_COLORS; i++) lanes.push(v(`--enb-lane-${i}`, "#1976d2"));
    colors = {
      lane: v("--enb-bg2", "#eee"),
      lanes,
      spoken: v("--enb-block-spoken", "#90caf9"),
      current: v("--enb-fg1", "#000"),
      muted: v("--enb-muted", "#777"),
      font: `10px ${cs.fontFamily || "sans-serif"}`
    };
    return colors;
  }
  function syncLanes() {
    const lanes = lanesOf(s);
    const key = lanes.map((l) => `${l.id}\0${l.label}`).join("");
    if (key === laneKey) return lanes;
    laneKey = key;
    labels.textContent = "";
    for (const l of lanes) {
      const row = h("div", "enb-lane", l.label);
      row.dataset.lane = l.id;
      row.dataset.color = String(colorOf(s, l.id));
      labels.appendChild(row);
    }
    dirty = true;
    return lanes;
  }
  let fontSet = "";
  function draw() {
    dirty = false;
    if (root.hidden || !width) return;
    const c = colors || readColors(root);
    const lanes = syncLanes();
    const rows = Math.max(1, lanes.length);
    const cssH = rows * (ROW_H + ROW_GAP) + AXIS_H;
    const dpr = globalThis.devicePixelRatio || 1;
    const order = s.list.order;
    const picture = [width, dpr, laneKey, s.list.version, s.current, total(), s.bufferedEnd];
    if (c === drawnColors && picture.every((v, i) => v === drawn[i])) return;
    drawn = picture;
    drawnColors = c;
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(cssH * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(cssH * dpr);
      canvas.style.height = `${cssH}px`;
      fontSet = "";
    }
    const g = canvas.getContext("2d");
    if (!g) return;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, width, cssH);
    g.fillStyle = c.lane;
    for (let i = 0; i < rows; i++) g.fillRect(0, i * (ROW_H + ROW_GAP), width, ROW_H);
    const all = total();
    const laneAt = new Map(lanes.map((l, i) => [l.id, { row: i, color: colorSlot(i) }]));
    const other = { row: 0, color: 0 };
    const runs = wordRuns(order, s.current, width / all, (lane) => laneAt.get(lane) ?? other);
    let style = "", alpha = -1;
    for (const r of runs) {
      const y = r.row * (ROW_H + ROW_GAP) + 3, a = r.solid ? 1 : 0.4;
      if (c.lanes[r.color] !== style) g.fillStyle = style = c.lanes[r.color];
      if (a !== alpha) g.globalAlpha = alpha = a;
      g.fillRect(r.x, y, r.w, ROW_H - 6);
      if (r.current) {
        g.fillStyle = style = c.current;
        g.fillRect(r.x, y + ROW_H - 7, Math.max(2, r.w), 2);
      }
    }
    g.globalAlpha = 1;
    const y0 = rows * (ROW_H + ROW_GAP);
    g.fillStyle = c.muted;
    if (fontSet !== c.font) {
      g.font = c.font;
      fontSet = c.font;
    }
    g.textBaseline = "top";
    for (const t of axisTicks(s.bufferedEnd > 0 ? all : 0, width)) {
      g.fillRect(Math.min(t.x, width - 1), y0, 1, 4);
      g.textAlign = t.align;
      g.fillText(t.label, t.align === "left" ? t.x + 2 : width - 1, y0 + 4);
    }
  }
  return {
    root,
    track,
    total,
    changed() {
      dirty = true;
    },
    recolor() {
      colors = null;
      dirty = true;
    },
    /** @param {boolean} hidden */
    setHidden(hidden) {
      if (root.hidden !== hidden) root.hidden = hidden;
    },
    syncLanes,
    /** The playhead and bars at `t`; gives when one of them next moves. @param {number} t */
    frame(t) {
      if (root.hidden) return Infinity;
      const all = total();
      const headStep = all / Math.max(1, width * HEAD_STEPS_PER_PX), barStep = all / BAR_STEPS;
      const headX = Math.round(t / headStep) / HEAD_STEPS_PER_PX;
      if (headX !== shown.head) {
        playhead.style.transform = `translateX(${headX}px)`;
        shown.head = headX;
      }
      const p = Math.round(t / barStep) / BAR_STEPS, b = Math.round(s.bufferedEnd / barStep) / BAR_STEPS;
      if (p !== shown.played) {
        played.style.transform = `scaleX(${p})`;
        shown.played = p;
      }
      if (b !== shown.buffered) {
        buffered.style.transform = `scaleX(${b})`;
        shown.buffered = b;
      }
      if (dirty) draw();
      return Math.min(nextStep(t, headStep), nextStep(t, barStep));
    },
    /** The media time under a click. @param {number} clientX */
    timeAt(clientX) {
      const rect = track.getBoundingClientRect();
      return (clientX - rect.left) / Math.max(1, rect.width) * total();
    },
    dispose() {
      resize.disconnect();
    }
  };
}

// src/transcript.js
var PENDING_SHOWN = 600;
var DOM_BATCH = 500;
var FOLLOW_PAUSE_MS = 4e3;
var BLOCK_WORDS = 100;
var SENTENCE_END = /[.!?…。！？]["'”’)\]]*$/;
function transcriptView(s, changed) {
  const box = h("div", "enb-transcript");
  box.setAttribute("aria-hidden", "true");
  const pending = h("span", "enb-pending");
  const plain = h("div", "enb-sr-only");
  plain.setAttribute("aria-live", "polite");
  plain.setAttribute("aria-label", "Transcript");
  let plainText = "";
  const spans = [];
  let paragraph = null;
  let paragraphLane = null;
  let paragraphWords = 0;
  let userScrolledAt = -1e9;
  let aligned = null;
  const queue = [];
  let flushing = 0;
  function follow(span) {
    if (!span) return;
    const overflows = box.scrollHeight > box.clientHeight;
    if (overflows) box.classList.add("enb-full");
    if (!overflows || performance.now() - userScrolledAt < FOLLOW_PAUSE_MS) return;
    const top = span.offsetTop, bottom = top + span.offsetHeight;
    if (top < box.scrollTop || bottom > box.scrollTop + box.clientHeight) box.scrollTop = Math.max(0, top - box.clientHeight / 3);
  }
  function placePending() {
    const host = paragraph || box;
    if (!pending.textContent) {
      if (pending.parentNode) pending.remove();
    } else if (pending.parentNode !== host || host.lastChild !== pending) host.appendChild(pending);
  }
  function appendWords(words) {
    if (!words.length) return;
    const order = s.list.order;
    const current = s.current >= 0 ? order[s.current] : null;
    const frag = document.createDocumentFragment();
    if (pending.parentNode) pending.remove();
    for (const w of words) {
      if (!paragraph || w.lane !== paragraphLane) {
        paragraph = h("p", "enb-turn");
        const speaker = h("span", "enb-speaker", `${labelOf(s, w.lane)}: `);
        speaker.dataset.color = String(colorOf(s, w.lane));
        paragraph.appendChild(speaker);
        paragraphLane = w.lane;
        paragraphWords = 0;
        frag.appendChild(paragraph);
      } else if (paragraphWords >= 3 * BLOCK_WORDS || paragraphWords >= BLOCK_WORDS && SENTENCE_END.test(paragraph.lastElementChild?.textContent || "")) {
        paragraph = h("p", "enb-turn enb-more");
        paragraphWords = 0;
        frag.appendChild(paragraph);
      }
      paragraphWords++;
      const cls = current === w ? "enb-word enb-current" : current && w.start < current.start ? "enb-word enb-spoken" : "enb-word";
      const span = h("span", cls, w.text);
      span.dataset.i = String(w.index);
      if (paragraph.lastElementChild?.classList.contains("enb-word")) paragraph.append(" ");
      paragraph.append(span);
      spans[w.index] = span;
    }
    box.appendChild(frag);
    placePending();
    changed();
  }
  function flushQueue() {
    flushing = 0;
    appendWords(queue.splice(0, DOM_BATCH));
    if (queue.length) flushing = requestAnimationFrame(flushQueue);
  }
  box.addEventListener("wheel", () => {
    userScrolledAt = performance.now();
  }, { passive: true });
  box.addEventListener("touchmove", () => {
    userScrolledAt = performance.now();
  }, { passive: true });
  return {
    box,
    plain,
    reset() {
      queue.length = 0;
      if (flushing) {
        cancelAnimationFrame(flushing);
        flushing = 0;
      }
      box.textContent = "";
      box.classList.remove("enb-full");
      spans.length = 0;
      aligned = null;
      paragraph = null;
      paragraphLane = null;
      paragraphWords = 0;
    },
    /** @param {Word[]} words */
    addWords(words) {
      if (queue.length || words.length > DOM_BATCH) {
        for (const w of words) queue.push(w);
        if (!flushing) flushQueue();
      } else appendWords(words);
    },
    /** @param {Word} w */
    growWord(w) {
      if (spans[w.index]) spans[w.index].textContent = w.text;
    },
    /** Only the words between the old and the new position change class. @param {number} previous @param {number} k */
    moveHighlight(previous, k) {
      const order = s.list.order;
      const lo = Math.max(0, Math.min(previous, k)), hi = Math.max(previous, k);
      for (let p = lo; p <= hi && p < order.length; p++) spans[order[p].index]?.classList.toggle("enb-spoken", p < k);
      if (previous >= 0 && order[previous]) spans[order[previous].index]?.classList.remove("enb-current");
      if (k >= 0) {
        const span = spans[order[k].index];
        span?.classList.add("enb-current");
        follow(span);
      }
    },
    restyle() {
      const order = s.list.order;
      for (let p = 0; p < order.length; p++) {
        const span = spans[order[p].index];
        span?.classList.remove("enb-current");
        span?.classList.toggle("enb-spoken", p < s.current);
      }
    },
    setText() {
      const text = s.text;
      if (text !== plainText) {
        if (text.startsWith(plainText)) plain.appendChild(document.createTextNode(text.slice(plainText.length)));
        else plain.textContent = text;
        plainText = text;
      }
      let tail = "";
      if (!s.streamDone && lanesOf(s).length <= 1) {
        aligned = alignedEnd(text, s.alignedChars, aligned);
        tail = pendingTail(text, aligned.index, PENDING_SHOWN, spans.length > 0);
      }
      if (pending.textContent !== tail) pending.textContent = tail;
      placePending();
    },
    hasPending: () => !!pending.parentNode,
    /** The word index a click landed on, if any. @param {EventTarget | null} target */
    wordIndexAt(target) {
      const i = target instanceof HTMLElement ? target.dataset.i : void 0;
      return i === void 0 ? -1 : +i;
    },
    dispose() {
      if (flushing) cancelAnimationFrame(flushing);
    }
  };
}

// src/view.js
var SEEK_STEP_MS = 2e3;
function makeView(s, el) {
  const model = s.model;
  const root = h("div", "enb-player");
  root.tabIndex = 0;
  root.setAttribute("role", "region");
  root.setAttribute("aria-label", "Speech player. Space plays or pauses, arrow keys seek.");
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  root.dataset.playerId = s.id;
  const controls = controlsView(s);
  const timeline = timelineView(s, () => wake(s));
  const transcript = transcriptView(s, () => timeline.changed());
  root.append(controls.bar, controls.unlockBtn, transcript.box, timeline.root, transcript.plain);
  const tracePre = s.debug.on ? h("pre", "enb-trace") : null;
  if (tracePre) root.append(tracePre);
  el.appendChild(root);
  const recolor = () => {
    timeline.recolor();
    wake(s);
  };
  const themeWatch = new MutationObserver(recolor);
  themeWatch.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name", "class"] });
  const scheme = typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: dark)") : null;
  scheme?.addEventListener("change", recolor);
  const view = {
    root,
    reset() {
      transcript.reset();
      timeline.changed();
      view.setText();
    },
    addWords(words) {
      transcript.addWords(words);
    },
    growWord(w) {
      transcript.growWord(w);
      timeline.changed();
    },
    moveHighlight(previous, k) {
      transcript.moveHighlight(previous, k);
      timeline.changed();
    },
    restyle() {
      transcript.restyle();
      timeline.changed();
    },
    setText() {
      transcript.setText();
      timeline.changed();
    },
    frame(t) {
      return Math.min(controls.frame(t, timeline.total()), timeline.frame(t));
    },
    refresh() {
      controls.refresh(root);
      if (tracePre) setText(tracePre, traceTable(s.debug.trace));
      timeline.setHidden(model.get("show_timeline") === false);
      root.classList.toggle("enb-multi", lanesOf(s).length > 1);
      timeline.syncLanes();
      if (s.streamDone && transcript.hasPending()) transcript.setText();
      timeline.changed();
    },
    dispose() {
      transcript.dispose();
      timeline.dispose();
      themeWatch.disconnect();
      scheme?.removeEventListener("change", recolor);
      root.remove();
    }
  };
  root.addEventListener("pointerdown", () => {
    if (s.blocked || s.ctx?.state === "suspended") unlock(s);
  });
  controls.play.addEventListener("click", () => togglePlay(s));
  controls.stop.addEventListener("click", () => {
    stopByUser(s);
    model.send({ type: "stopped" });
  });
  controls.unlockBtn.addEventListener("click", () => {
    unlock(s);
    if (s.mode !== "playing" && s.mode !== "waiting") playByHand(s);
  });
  controls.again.addEventListener("click", () => {
    s.wantsNow = true;
    unlock(s);
    model.send({ type: "speak_again" });
  });
  controls.wav.addEventListener("click", () => download(wavBlob(s), "speech.wav"));
  controls.vtt.addEventListener("click", () => download(new Blob([captions(s)], { type: "text/vtt" }), "speech.vtt"));
  transcript.box.addEventListener("click", (e) => {
    const i = transcript.wordIndexAt(e.target);
    if (i >= 0 && s.list.words[i]) playByHand(s, s.list.words[i].start);
  });
  timeline.root.addEventListener("click", (e) => playByHand(s, timeline.timeAt(e.clientX)));
  root.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLButtonElement && (e.key === " " || e.key === "Enter")) return;
    let handled = true;
    if (e.key === " " || e.key === "k") togglePlay(s);
    else if (e.key === "ArrowRight") seek(s, controls.now() + SEEK_STEP_MS);
    else if (e.key === "ArrowLeft") seek(s, controls.now() - SEEK_STEP_MS);
    else if (e.key === "Home") seek(s, 0);
    else if (e.key === "End") seek(s, s.contiguousEnd);
    else handled = false;
    if (handled) {
      e.preventDefault();
      e.stopPropagation();
    }
  });
  transcript.addWords(s.list.words);
  view.setText();
  transcript.restyle();
  if (s.current >= 0) transcript.moveHighlight(s.current, s.current);
  view.refresh();
  return view;
}

// src/index.js
var KERNEL_GONE = /* @__PURE__ */ new Set(["restarting", "autorestarting", "dead"]);
var players = /* @__PURE__ */ new Map();
function debugHandle(s) {
  return {
    audioTime: () => mediaTime(s),
    get chunksReceived() {
      return s.debug.chunksReceived;
    },
    get firstChunkAt() {
      return s.debug.firstChunkAt;
    },
    get firstScheduledAt() {
      return s.debug.firstScheduledAt;
    },
    // timeline ms of the first sample that is not near silence (debug.js logSound)
    get firstSoundMs() {
      return s.debug.firstSoundMs;
    },
    get highlightedIndex() {
      return s.current >= 0 ? s.list.order[s.current].index : -1;
    },
    get state() {
      return s.blocked ? "blocked" : s.mode;
    },
    // idle|playing|waiting|paused|ended|blocked
    get status() {
      return s.views.size ? [...s.views][0].root.dataset.status : void 0;
    },
    get info() {
      return {
        mode: s.mode,
        blocked: s.blocked,
        ctx: s.ctx ? s.ctx.state : null,
        bufferedEnd: s.bufferedEnd,
        contiguousEnd: s.contiguousEnd,
        streamDone: s.streamDone,
        chunks: s.chunks.length,
        lanes: lanesOf(s).map((l) => l.id),
        views: s.views.size,
        seq: memberOf(s).seq,
        terminal: s.terminal
      };
    },
    get out() {
      return s.out;
    },
    // the player's gain node: its sources feed it
    // what the early voice (early.js) played of the first chunk, context seconds: {begin, end} or null
    get early() {
      return s.debug.early ? { ...s.debug.early } : null;
    },
    get words() {
      return s.list.words.map((w) => ({ text: w.text, start: w.start, end: w.end, lane: w.lane }));
    },
    // performance.now() when each chunk arrived and when it was scheduled: [{at_ms, receivedAt, scheduledAt}]
    // stage -> wall-clock ms: the browser's, plus the kernel's and the server's once the stream ended
    get trace() {
      return { ...s.debug.trace };
    },
    get chunkLog() {
      return s.debug.chunkLog.map((c) => ({ ...c }));
    },
    // per highlight change: how far (media ms) past the word's start the highlight reached it
    get lags() {
      return s.debug.lags.slice();
    },
    // per animation frame while playing: performance.now(), media ms, and the highlight's lag then
    get frames() {
      return { at: s.debug.frameAt.slice(), media: s.debug.frameMedia.slice(), lag: s.debug.frameLag.slice() };
    }
  };
}
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
var index_default = {
  /** @param {{model: Model}} args */
  initialize({ model }) {
    const s = stateFor(model);
    markStage(s.debug, "browser: widget initialized");
    s.model = model;
    s.text = model.get("text") || s.text;
    const st = model.get("status");
    if (st === "done" || st === "error") restore(s);
    const onCustom = (msg, buffers) => onMessage(s, msg, buffers);
    const onStatus = () => setKernelStatus(s, String(model.get("status")), String(model.get("status_message") || ""));
    const onText = () => {
      s.text = model.get("text") || "";
      for (const v of s.views) v.setText();
    };
    const onChange = () => refresh(s);
    const onLanes = () => {
      s.begunLanes = null;
      refresh(s);
    };
    const onLost = () => kernelLost(s);
    const kernel = (
      /** @type {any} */
      model.widget_manager?.kernel
    );
    const onKernelStatus = (_sender, status) => {
      if (KERNEL_GONE.has(status)) kernelLost(s);
    };
    kernel?.statusChanged?.connect?.(onKernelStatus);
    const changes = ["change:metrics", "change:show_timeline", "change:captions", "change:endpoint_label"];
    model.on("msg:custom", onCustom);
    model.on("change:status", onStatus);
    model.on("change:status_message", onStatus);
    model.on("change:text", onText);
    model.on("comm_live_update", onLost);
    model.on("change:lanes", onLanes);
    for (const ev of changes) model.on(ev, onChange);
    settleEarly(s);
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
    try {
      ensureAudio(s);
    } catch (_) {
    }
    markStage(s.debug, "browser: view created");
    const view = makeView(s, el);
    s.views.add(view);
    if (s.debug.on) el.__elevenPlayer = handles()[s.id];
    wake(s);
    return () => {
      view.dispose();
      s.views.delete(view);
      if (!s.views.size) stopFrames(s);
    };
  }
};
export {
  index_default as default
};
