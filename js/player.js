// eleven_nb player: plays streamed int16 PCM chunks gaplessly with Web Audio and keeps a transcript
// and a timeline in step with the audio clock. One plain ES module for anywidget; no build step.
//
// Kernel -> browser ("msg:custom"):
//   {type: "begin", text, lanes}                       a new utterance: reset
//   {type: "chunk", lane, at_ms, sample_rate, chars, starts_ms, durations_ms} + buffers[0] = int16 LE PCM
//       at_ms and starts_ms are absolute on the player's one timeline
//   {type: "text", lane, text}                         the transcript grows (token streams)
//   {type: "status", status, message}                  connecting | streaming | done | error
//   {type: "stop"}                                     stop playback (an interrupt)
// Browser -> kernel: {type: "speak_again"}.
// Synced state read here: player_id, lanes, text, status, status_message, show_timeline, metrics, and,
// once the stream has ended, words + audio + sample_rate (so a reopened output can replay alone).
//
// Play, pause, seek and the highlight live here, so they work while the kernel is busy.
// State is kept per player_id (initialize() and render() get different model proxies in anywidget).

const SEEK_STEP_MS = 2000;
const LEAD_S = 0.03; // schedule a little ahead so the first samples are not cut
const GAP_TOLERANCE_MS = 5; // chunks closer than this count as contiguous
const PENDING_SHOWN = 600; // characters of not-yet-spoken text shown after the spoken words
const FRAME_LOG = 20000; // per-frame samples kept for the highlight-lag benchmark
const BLOCKED_AFTER_MS = 300; // a context still suspended this long after play() was blocked
const DOM_BATCH = 500; // words added to the transcript per task when many come at once
const ROW_H = 16, ROW_GAP = 4, AXIS_H = 16; // timeline geometry (CSS px)

const players = new Map(); // player_id -> state
const handles = (globalThis.__elevenPlayers = globalThis.__elevenPlayers || {});

// --- one AudioContext for every player on the page (browsers limit how many may exist) -------------

let sharedCtx = null;

function audioContext() {
  if (!sharedCtx || sharedCtx.state === "closed") {
    const Ctx = globalThis.AudioContext || globalThis.webkitAudioContext;
    sharedCtx = new Ctx({ latencyHint: "interactive" });
    sharedCtx.addEventListener("statechange", () => {
      for (const s of players.values()) {
        if (sharedCtx.state === "running" && s.blocked) { s.blocked = false; refresh(s); }
      }
    });
  }
  return sharedCtx;
}

function ensureAudio(s) {
  const ctx = audioContext();
  if (s.ctx !== ctx) {
    s.ctx = ctx;
    s.out = ctx.createGain();
    s.out.connect(ctx.destination);
    for (const c of s.chunks) c.buffer = null; // buffers belong to a context: rebuild lazily
  }
  return ctx;
}

// --- state ---------------------------------------------------------------------------------------

function streamState() {
  return {
    chunks: [], // sorted by `at`: {lane, at, dur, rate, pcm: Int16Array, buffer: AudioBuffer|null}
    contiguousEnd: 0, // end of the audio that plays without a hole (ms)
    bufferedEnd: 0, // end of all audio received (ms)
    words: [], // in arrival order (the DOM index): {lane, text, start, end, index}
    order: [], // the same words sorted by start, for the binary search
    openWords: new Map(), // lane -> its last word, which the next chunk may continue
    alignedChars: 0, // non-space characters aligned so far (to show the not-yet-spoken tail)
    seenLanes: [],
    streamDone: false,
    mode: "idle", // idle | playing | waiting (underrun: the clock waits) | paused | ended
    userPaused: false,
    anchorMedia: 0, // media ms at anchorCtx
    anchorCtx: 0, // AudioContext seconds when anchorMedia plays
    current: -1, // position in `order` of the highlighted word
    debug: { chunksReceived: 0, firstChunkAt: null, firstScheduledAt: null, chunkLog: [], lags: [],
             frameAt: [], frameMedia: [], frameLag: [] },
  };
}

function createState(id, model) {
  const s = Object.assign(streamState(), {
    id, model, ctx: null, out: null, sources: new Set(), views: new Set(), raf: 0,
    blocked: false, blockTimer: 0, text: model.get("text") || "",
  });
  players.set(id, s);
  return s;
}

function resetStream(s) {
  stopSources(s);
  Object.assign(s, streamState());
  s.current = -1;
  for (const v of s.views) v.reset();
}

function lanesOf(s) {
  const declared = (s.model.get("lanes") || []).map((l) => ({ id: String(l.id), label: String(l.label ?? l.id) }));
  for (const id of s.seenLanes) if (!declared.some((l) => l.id === id)) declared.push({ id, label: id });
  return declared;
}

function labelOf(s, lane) {
  const l = (s.model.get("lanes") || []).find((x) => x.id === lane);
  return l ? String(l.label ?? l.id) : lane;
}

// --- the media clock -----------------------------------------------------------------------------

// What has been scheduled to reach the output by now (ms on the timeline).
function rawTime(s) {
  if (s.mode !== "playing" || !s.ctx) return s.anchorMedia;
  return s.anchorMedia + (s.ctx.currentTime - s.anchorCtx) * 1000;
}

// What the listener hears now: the raw clock less the output latency, held inside the audio we have.
function mediaTime(s) {
  if (s.mode !== "playing" || !s.ctx) return s.anchorMedia;
  const latency = Math.min(0.5, Math.max(0, s.ctx.outputLatency || s.ctx.baseLatency || 0));
  const t = s.anchorMedia + (s.ctx.currentTime - latency - s.anchorCtx) * 1000;
  return Math.min(Math.max(t, s.anchorMedia), s.contiguousEnd);
}

function stopSources(s) {
  for (const src of s.sources) {
    try { src.onended = null; src.stop(); } catch (_) { /* never started or already stopped */ }
  }
  s.sources.clear();
}

function bufferOf(s, c) {
  if (!c.buffer && c.pcm.length) {
    c.buffer = s.ctx.createBuffer(1, c.pcm.length, c.rate);
    const data = c.buffer.getChannelData(0);
    for (let i = 0; i < c.pcm.length; i++) data[i] = c.pcm[i] / 32768;
  }
  return c.buffer;
}

function schedule(s, c) {
  const offset = s.anchorMedia - c.at; // ms into the chunk where playback begins
  if (offset >= c.dur || !c.pcm.length) return;
  const src = s.ctx.createBufferSource();
  src.buffer = bufferOf(s, c);
  src.connect(s.out);
  src.start(s.anchorCtx + Math.max(0, -offset) / 1000, Math.max(0, offset) / 1000);
  src.onended = () => s.sources.delete(src);
  s.sources.add(src);
  const now = performance.now();
  if (c.log && c.log.scheduledAt === null) c.log.scheduledAt = now;
  if (s.debug.firstScheduledAt === null) s.debug.firstScheduledAt = now;
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

// The browser may refuse to start audio without a user gesture: say so, and start on a click.
function watchBlocked(s) {
  const ctx = s.ctx;
  ctx.resume().catch(() => {});
  clearTimeout(s.blockTimer);
  s.blockTimer = setTimeout(() => {
    if (ctx.state !== "running" && (s.mode === "playing" || s.mode === "waiting")) { s.blocked = true; refresh(s); }
  }, BLOCKED_AFTER_MS);
}

function unlock(s) {
  const ctx = ensureAudio(s);
  if (ctx.state !== "running") ctx.resume().then(() => { s.blocked = false; refresh(s); }, () => {});
}

function pause(s, byUser) {
  if (s.mode === "playing" || s.mode === "waiting") s.anchorMedia = mediaTime(s);
  if (s.mode !== "idle" || byUser) s.mode = "paused";
  if (byUser) s.userPaused = true;
  stopSources(s);
  highlight(s, true);
  refresh(s);
}

function seek(s, ms) {
  const target = Math.max(0, Math.min(ms, s.contiguousEnd));
  if (s.mode === "playing" || s.mode === "waiting") startFrom(s, target);
  else {
    s.anchorMedia = target;
    if (s.mode === "ended") s.mode = "paused";
  }
  highlight(s, true);
  refresh(s);
}

function togglePlay(s) {
  unlock(s); // a click or key press is a user gesture: the moment to resume a blocked context
  if (s.mode === "playing" || s.mode === "waiting") pause(s, true);
  else if (s.chunks.length) startFrom(s, s.streamDone && s.anchorMedia >= s.contiguousEnd - 1 ? 0 : s.anchorMedia);
}

// --- incoming data -------------------------------------------------------------------------------

// Buffers arrive as DataView, maybe at an odd offset: copy the bytes before viewing them as int16.
function toInt16(data) {
  if (!data) return new Int16Array(0);
  if (data instanceof Int16Array) return data;
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data)
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const even = bytes.length - (bytes.length % 2);
  return new Int16Array(bytes.slice(0, even).buffer); // little-endian, as every browser platform is
}

function recomputeEnds(s) {
  let end = s.chunks.length ? s.chunks[0].at : 0, all = 0;
  for (const c of s.chunks) {
    if (c.at <= end + GAP_TOLERANCE_MS) end = Math.max(end, c.at + c.dur);
    all = Math.max(all, c.at + c.dur);
  }
  s.bufferedEnd = all;
  s.contiguousEnd = s.streamDone ? all : end; // once the stream is over, a hole is just silence
}

function addAudio(s, lane, at, pcm, rate) {
  const c = { lane, at, rate, pcm, dur: (pcm.length / rate) * 1000, buffer: null, log: null };
  let i = s.chunks.length;
  while (i > 0 && s.chunks[i - 1].at > at) i--; // nearly always appended at the end
  s.chunks.splice(i, 0, c);
  recomputeEnds(s);
  return c;
}

function isSpace(c) {
  return c === " " || c === "\n" || c === "\t" || c === "\r" || /^\s+$/.test(c);
}

// Words are runs of non-space characters. A word cut by a chunk boundary continues in the next chunk
// of the same lane; another lane speaking in between (a new turn) or a long silence ends it.
function addChars(s, lane, chars, starts, durs) {
  for (const other of s.openWords.keys()) if (other !== lane) s.openWords.delete(other);
  let open = s.openWords.get(lane) || null;
  if (open && chars.length && +starts[0] - open.end > 300) open = null;
  const added = [], grown = new Set();
  for (let i = 0; i < chars.length; i++) {
    const ch = String(chars[i] ?? "");
    if (!ch || isSpace(ch)) { open = null; continue; }
    const start = +starts[i] || 0, end = start + (+durs[i] || 0);
    if (!open) { open = { lane, text: "", start, end, index: -1 }; added.push(open); }
    else if (open.index >= 0) grown.add(open);
    open.text += ch;
    if (end > open.end) open.end = end;
    s.alignedChars += 1;
  }
  s.openWords.set(lane, open);
  return { added, grown: [...grown] };
}

function registerWords(s, words) {
  let outOfOrder = false;
  for (const w of words) {
    w.index = s.words.length;
    s.words.push(w);
    const o = s.order;
    if (!o.length || o[o.length - 1].start <= w.start) o.push(w);
    else { // rare: a chunk earlier on the timeline than one already here
      let lo = 0, hi = o.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (o[mid].start <= w.start) lo = mid + 1; else hi = mid; }
      o.splice(lo, 0, w);
      outOfOrder = true;
    }
    if (!s.seenLanes.includes(w.lane)) s.seenLanes.push(w.lane);
  }
  for (const v of s.views) v.addWords(words);
  if (outOfOrder) { s.current = -1; for (const v of s.views) v.restyle(); highlight(s, true); }
}

function onChunk(s, msg, buffers) {
  const d = s.debug, now = performance.now();
  d.chunksReceived += 1;
  if (d.firstChunkAt === null) d.firstChunkAt = now;
  const lane = String(msg.lane ?? "speech");
  if (!s.seenLanes.includes(lane)) s.seenLanes.push(lane);
  const before = s.contiguousEnd;
  const c = addAudio(s, lane, +msg.at_ms || 0, toInt16(buffers && buffers[0]), +msg.sample_rate || 22050);
  c.log = { at_ms: c.at, receivedAt: now, scheduledAt: null };
  d.chunkLog.push(c.log);
  const { added, grown } = addChars(s, lane, msg.chars || [], msg.starts_ms || [], msg.durations_ms || []);
  registerWords(s, added);
  for (const v of s.views) for (const w of grown) v.growWord(w);
  if (c.pcm.length) {
    if (s.mode === "playing") {
      ensureAudio(s);
      // late (underrun): the clock ran past the audio we had; it waits, then resumes where audio ran out
      if (rawTime(s) > c.at + 1) startFrom(s, Math.min(rawTime(s), before));
      else schedule(s, c);
    } else if (s.mode === "waiting") startFrom(s, s.anchorMedia);
    else if (s.mode === "idle" && !s.userPaused) startFrom(s, c.at <= before + GAP_TOLERANCE_MS ? 0 : c.at);
  }
  for (const v of s.views) v.setText();
  wake(s);
  refresh(s);
}

function endStream(s) {
  if (s.streamDone) return;
  s.streamDone = true;
  s.openWords.clear();
  recomputeEnds(s);
}

function onMessage(s, msg, buffers) {
  if (!msg || typeof msg !== "object") return;
  switch (msg.type) {
    case "begin":
      resetStream(s);
      if (typeof msg.text === "string") s.text = msg.text;
      for (const v of s.views) v.setText();
      refresh(s);
      break;
    case "chunk":
      onChunk(s, msg, buffers);
      break;
    case "text":
      s.text += String(msg.text ?? "");
      for (const v of s.views) v.setText();
      break;
    case "status":
      s.status = msg.status;
      s.statusMessage = msg.message || "";
      if (msg.status === "done" || msg.status === "error") endStream(s);
      if (msg.message === "interrupted") pause(s, false);
      for (const v of s.views) v.setText();
      refresh(s);
      break;
    case "stop":
      pause(s, false);
      break;
    default:
      break;
  }
}

// A re-rendered or reopened output after the stream ended: rebuild from the synced state alone.
function restore(s) {
  const words = s.model.get("words") || [];
  if (s.chunks.length || s.words.length || !words.length) return;
  const pcm = toInt16(s.model.get("audio"));
  if (pcm.length) addAudio(s, "speech", 0, pcm, s.model.get("sample_rate") || 22050);
  registerWords(s, words.map((w) => ({ lane: String(w.lane ?? "speech"), text: String(w.text),
                                        start: +w.start_ms, end: +w.end_ms, index: -1 })));
  s.alignedChars = s.words.reduce((n, w) => n + w.text.length, 0);
  endStream(s);
}

// --- highlight loop ------------------------------------------------------------------------------

function wordAt(order, t) { // the last word that has started by t (binary search)
  let lo = 0, hi = order.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (order[mid].start <= t) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found;
}

function highlight(s, force) {
  const t = mediaTime(s);
  const k = wordAt(s.order, t);
  if (s.mode === "playing" && !force) {
    // per frame: how far the media clock is past the start of the word that should be lit but is not yet
    const d = s.debug;
    const lag = k !== s.current && k >= 0 ? t - s.order[k].start : 0;
    if (k !== s.current && k >= 0) d.lags.push(lag);
    d.frameAt.push(performance.now()); d.frameMedia.push(t); d.frameLag.push(lag);
    if (d.frameAt.length > FRAME_LOG) for (const a of [d.frameAt, d.frameMedia, d.frameLag]) a.splice(0, FRAME_LOG / 2);
  }
  if (k !== s.current || force) {
    const previous = s.current;
    s.current = k;
    for (const v of s.views) v.moveHighlight(previous, k);
  }
  return t;
}

function frame(s) {
  s.raf = 0;
  if (s.mode === "playing" && rawTime(s) >= s.contiguousEnd - 1) {
    if (s.streamDone) { s.mode = "ended"; s.anchorMedia = s.bufferedEnd; stopSources(s); }
    else { s.mode = "waiting"; s.anchorMedia = s.contiguousEnd; } // underrun: hold the clock here
    refresh(s);
  }
  const t = highlight(s, false);
  for (const v of s.views) v.frame(t);
  if (s.mode === "playing") wake(s);
}

function wake(s) {
  if (!s.raf && s.views.size) s.raf = requestAnimationFrame(() => frame(s));
}

function refresh(s) {
  for (const v of s.views) v.refresh();
  wake(s);
}

// --- downloads -----------------------------------------------------------------------------------

function wavBlob(s) {
  const rate = s.chunks[0]?.rate || s.model.get("sample_rate") || 22050;
  const placed = s.chunks.map((c) => {
    let pcm = c.pcm;
    if (c.rate !== rate) { // resample (linear) a chunk at another rate
      const n = Math.round((pcm.length * rate) / c.rate), out = new Int16Array(n);
      for (let i = 0; i < n; i++) {
        const x = (i * c.rate) / rate, j = Math.floor(x), f = x - j;
        out[i] = Math.round(pcm[j] * (1 - f) + (pcm[Math.min(j + 1, pcm.length - 1)] ?? 0) * f);
      }
      pcm = out;
    }
    return { start: Math.round((c.at * rate) / 1000), pcm };
  });
  const total = placed.reduce((n, p) => Math.max(n, p.start + p.pcm.length), 0);
  const pcm = new Int16Array(total);
  for (const p of placed) pcm.set(p.pcm, p.start);
  const head = new DataView(new ArrayBuffer(44));
  const ascii = (at, str) => { for (let i = 0; i < str.length; i++) head.setUint8(at + i, str.charCodeAt(i)); };
  ascii(0, "RIFF"); head.setUint32(4, 36 + pcm.byteLength, true); ascii(8, "WAVE");
  ascii(12, "fmt "); head.setUint32(16, 16, true); head.setUint16(20, 1, true); head.setUint16(22, 1, true);
  head.setUint32(24, rate, true); head.setUint32(28, rate * 2, true); head.setUint16(32, 2, true);
  head.setUint16(34, 16, true); ascii(36, "data"); head.setUint32(40, pcm.byteLength, true);
  return new Blob([head.buffer, pcm.buffer], { type: "audio/wav" });
}

function vttClock(ms) {
  const t = Math.max(0, Math.round(ms));
  const two = (n) => String(n).padStart(2, "0");
  return `${two(Math.floor(t / 3600000))}:${two(Math.floor(t / 60000) % 60)}:${two(Math.floor(t / 1000) % 60)}.${String(t % 1000).padStart(3, "0")}`;
}

function vttText(s) {
  const escape = (x) => x.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const multi = lanesOf(s).length > 1;
  const cues = [];
  let cue = [];
  const close = () => {
    if (!cue.length) return;
    const voice = multi ? `<v ${escape(labelOf(s, cue[0].lane))}>` : "";
    cues.push(`${cues.length + 1}\n${vttClock(cue[0].start)} --> ${vttClock(Math.max(cue[cue.length - 1].end, cue[0].start + 1))}\n`
              + voice + escape(cue.map((w) => w.text).join(" ")));
    cue = [];
  };
  for (const w of s.order) {
    if (cue.length) {
      const last = cue[cue.length - 1];
      const length = cue.reduce((n, x) => n + x.text.length + 1, 0) + w.text.length;
      if (last.lane !== w.lane || length > 42 || w.start - last.end > 700 || w.end - cue[0].start > 6000) close();
    }
    cue.push(w);
    if (/[.!?…]["')\]]*$/.test(w.text)) close();
  }
  close();
  return `WEBVTT\n\n${cues.join("\n\n")}\n`;
}

function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.style.display = "none";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

// --- the view ------------------------------------------------------------------------------------

function h(tag, cls, text) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text !== undefined) el.textContent = text;
  return el;
}

function button(cls, text, label) {
  const b = h("button", `enb-btn ${cls}`, text);
  b.type = "button";
  b.title = label;
  b.setAttribute("aria-label", label);
  return b;
}

function fmt(ms) {
  const t = Math.max(0, ms) / 1000;
  return `${Math.floor(t / 60)}:${(t % 60).toFixed(1).padStart(4, "0")}`;
}

const STATUS_TEXT = { idle: "ready", connecting: "connecting…", streaming: "streaming", done: "done", error: "error" };

function makeView(s, el) {
  const model = s.model;
  const root = h("div", "enb-player");
  root.tabIndex = 0;
  root.setAttribute("role", "region");
  root.setAttribute("aria-label", "Speech player. Space plays or pauses, arrow keys seek.");
  root.setAttribute("data-lm-suppress-shortcuts", "true"); // JupyterLab leaves our keys alone
  root.dataset.playerId = s.id;

  const play = button("enb-play", "▶", "Play");
  const stop = button("enb-stop", "■", "Stop");
  const clock = h("span", "enb-clock", "0:00.0 / 0:00.0");
  const status = h("span", "enb-status");
  status.setAttribute("role", "status");
  const readout = h("span", "enb-readout");
  const again = button("enb-again", "↻ Speak again", "Speak the cell again");
  const wav = button("enb-wav", "⤓ WAV", "Download the audio (WAV)");
  const vtt = button("enb-vtt", "⤓ VTT", "Download the captions (WebVTT)");
  const bar = h("div", "enb-bar");
  bar.append(play, stop, clock, status, readout, again, wav, vtt);

  const unlockBtn = button("enb-unlock", "🔇 The browser blocked audio. Click to enable audio.", "Click to enable audio");
  unlockBtn.hidden = true;

  const transcript = h("div", "enb-transcript");
  transcript.setAttribute("aria-hidden", "true"); // the plain copy below is what screen readers read
  const pending = h("span", "enb-pending");
  const plain = h("div", "enb-sr-only");
  plain.setAttribute("aria-live", "polite");
  plain.setAttribute("aria-label", "Transcript");
  let plainText = "";

  const timeline = h("div", "enb-timeline");
  const labels = h("div", "enb-labels");
  const track = h("div", "enb-track");
  const progress = h("div", "enb-progress");
  const buffered = h("div", "enb-buffered");
  const played = h("div", "enb-played");
  progress.append(buffered, played);
  const canvas = h("canvas", "enb-canvas");
  const playhead = h("div", "enb-playhead");
  track.append(progress, canvas, playhead);
  timeline.append(labels, track);
  timeline.title = "Click to seek";

  root.append(bar, unlockBtn, transcript, timeline, plain);
  el.appendChild(root);

  const spans = []; // word index -> span
  let paragraph = null, paragraphLane = null;
  let width = 0, colors = null, dirty = true, shown = { clock: "", played: -1, head: -1, buffered: -1 };
  let userScrolledAt = -1e9, laneKey = "", countedText = null, textChars = 0;

  const resize = new ResizeObserver((entries) => {
    const w = Math.round(entries[0].contentRect.width);
    if (w !== width) { width = w; dirty = true; wake(s); }
  });
  resize.observe(track);
  const recolor = () => { colors = null; dirty = true; wake(s); };
  const themeWatch = new MutationObserver(recolor); // JupyterLab switches theme by body attributes
  themeWatch.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name", "class"] });
  const scheme = globalThis.matchMedia ? matchMedia("(prefers-color-scheme: dark)") : null;
  scheme?.addEventListener?.("change", recolor);

  function total() { // the timeline's length: the audio so far, or while streaming an estimate of the whole
    let est = s.bufferedEnd;
    if (!s.streamDone && s.alignedChars > 0 && lanesOf(s).length <= 1) {
      if (countedText !== s.text) { countedText = s.text; textChars = s.text.replace(/\s+/g, "").length; }
      const chars = textChars;
      if (chars > s.alignedChars) est = (s.bufferedEnd * chars) / s.alignedChars;
    }
    return Math.max(est, s.bufferedEnd, 1);
  }

  function syncLanes() {
    const lanes = lanesOf(s);
    const key = lanes.map((l) => `${l.id}\u0000${l.label}`).join("\u0001");
    if (key === laneKey) return lanes;
    laneKey = key;
    labels.textContent = "";
    for (const l of lanes) {
      const row = h("div", "enb-lane", l.label);
      row.dataset.lane = l.id;
      labels.appendChild(row);
    }
    root.classList.toggle("enb-multi", lanes.length > 1);
    dirty = true;
    return lanes;
  }

  function readColors() {
    const cs = getComputedStyle(root);
    const v = (name, fallback) => cs.getPropertyValue(name).trim() || fallback;
    colors = { lane: v("--enb-bg2", "#eee"), block: v("--enb-block", "#bbb"), spoken: v("--enb-block-spoken", "#90caf9"),
               current: v("--enb-accent", "#1976d2"), muted: v("--enb-muted", "#777"),
               font: `10px ${cs.fontFamily || "sans-serif"}` };
  }

  function draw() {
    dirty = false;
    if (timeline.hidden || !width) return;
    if (!colors) readColors();
    const lanes = syncLanes();
    const rows = Math.max(1, lanes.length);
    const cssH = rows * (ROW_H + ROW_GAP) + AXIS_H;
    const dpr = globalThis.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(cssH * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(cssH * dpr);
      canvas.style.height = `${cssH}px`;
    }
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, width, cssH);
    const rowOf = new Map(lanes.map((l, i) => [l.id, i]));
    g.fillStyle = colors.lane;
    for (let i = 0; i < rows; i++) g.fillRect(0, i * (ROW_H + ROW_GAP), width, ROW_H);
    const scale = width / total();
    const current = s.current >= 0 ? s.order[s.current] : null;
    for (let p = 0; p < s.order.length; p++) {
      const w = s.order[p];
      g.fillStyle = w === current ? colors.current : p < s.current ? colors.spoken : colors.block;
      const x = w.start * scale, y = (rowOf.get(w.lane) ?? 0) * (ROW_H + ROW_GAP) + 3;
      g.fillRect(x, y, Math.max(1, (w.end - w.start) * scale - 1), ROW_H - 6);
    }
    // the time axis: a tick at least 60 px apart, labelled m:ss
    const steps = [500, 1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000, 300000, 600000];
    const step = steps.find((ms) => ms * scale >= 60) || 600000;
    const y0 = rows * (ROW_H + ROW_GAP);
    g.fillStyle = colors.muted;
    g.font = colors.font;
    g.textBaseline = "top";
    for (let ms = 0; ms * scale <= width; ms += step) {
      const x = Math.round(ms * scale) + 0.5;
      g.fillRect(x, y0, 1, 4);
      const secs = ms / 1000;
      const label = step < 1000 ? secs.toFixed(1) : `${Math.floor(secs / 60)}:${String(Math.floor(secs % 60)).padStart(2, "0")}`;
      if (x + 28 < width) g.fillText(label, x + 2, y0 + 4);
    }
  }

  function follow(span) { // keep the spoken word in view inside the transcript (never scroll the page)
    if (!span || performance.now() - userScrolledAt < 4000 || transcript.scrollHeight <= transcript.clientHeight) return;
    const top = span.offsetTop, bottom = top + span.offsetHeight;
    if (top < transcript.scrollTop || bottom > transcript.scrollTop + transcript.clientHeight) {
      transcript.scrollTop = Math.max(0, top - transcript.clientHeight / 3);
    }
  }

  const queue = []; // words waiting for their spans
  let flushing = 0;

  function appendWords(words) {
    if (!words.length) return;
    const current = s.current >= 0 ? s.order[s.current] : null;
    const frag = document.createDocumentFragment();
    if (pending.parentNode) pending.remove(); // put back after the new words, in the last paragraph
    for (const w of words) {
      if (!paragraph || w.lane !== paragraphLane) {
        paragraph = h("p", "enb-turn");
        paragraph.appendChild(h("span", "enb-speaker", `${labelOf(s, w.lane)}: `));
        paragraphLane = w.lane;
        frag.appendChild(paragraph);
      }
      const span = h("span", current === w ? "enb-word enb-current" : current && w.start < current.start
        ? "enb-word enb-spoken" : "enb-word", w.text);
      span.dataset.i = w.index;
      if (paragraph.lastChild?.classList?.contains("enb-word")) paragraph.append(" ");
      paragraph.append(span);
      spans[w.index] = span;
    }
    transcript.appendChild(frag);
    placePending();
    dirty = true;
  }

  function placePending() { // the unspoken tail flows on after the last word, in the same paragraph
    const host = paragraph || transcript;
    if (!pending.textContent) { if (pending.parentNode) pending.remove(); }
    else if (pending.parentNode !== host || host.lastChild !== pending) host.appendChild(pending);
  }

  function flushQueue() {
    flushing = 0;
    appendWords(queue.splice(0, DOM_BATCH));
    if (queue.length) flushing = requestAnimationFrame(flushQueue);
  }

  const view = {
    root,
    reset() {
      queue.length = 0;
      if (flushing) { cancelAnimationFrame(flushing); flushing = 0; }
      transcript.textContent = "";
      spans.length = 0;
      paragraph = null;
      paragraphLane = null;
      laneKey = "";
      dirty = true;
      view.setText();
    },
    addWords(words) {
      // many words at once (a reopened output, a second view): a batch per frame, so no task runs long
      if (queue.length || words.length > DOM_BATCH) {
        for (const w of words) queue.push(w);
        if (!flushing) flushQueue();
      } else appendWords(words);
    },
    growWord(w) {
      if (spans[w.index]) spans[w.index].textContent = w.text;
      dirty = true;
    },
    moveHighlight(previous, k) {
      // only the words between the old and the new position change class
      const lo = Math.max(0, Math.min(previous, k)), hi = Math.max(previous, k);
      for (let p = lo; p <= hi && p < s.order.length; p++) spans[s.order[p].index]?.classList.toggle("enb-spoken", p < k);
      if (previous >= 0 && s.order[previous]) spans[s.order[previous].index]?.classList.remove("enb-current");
      if (k >= 0) {
        const span = spans[s.order[k].index];
        span?.classList.add("enb-current");
        follow(span);
      }
      dirty = true;
    },
    restyle() {
      for (let p = 0; p < s.order.length; p++) {
        const span = spans[s.order[p].index];
        span?.classList.remove("enb-current");
        span?.classList.toggle("enb-spoken", p < s.current);
      }
      dirty = true;
    },
    setText() {
      const text = s.text;
      if (text !== plainText) { // the screen-reader copy only ever gets what is new
        if (text.startsWith(plainText)) plain.appendChild(document.createTextNode(text.slice(plainText.length)));
        else plain.textContent = text;
        plainText = text;
      }
      // one voice, still streaming: the text not yet aligned shows, dimmed, after the spoken words
      let tail = "";
      if (!s.streamDone && lanesOf(s).length <= 1) {
        let i = 0, seen = 0;
        while (i < text.length && seen < s.alignedChars) { if (!isSpace(text[i])) seen++; i++; }
        // a word cut by a chunk boundary goes on without a space: "spo" + "ken, and ..."
        tail = text.slice(i).replace(/\s+/g, " ");
        if (!spans.length) tail = tail.trimStart();
        if (!tail.trim()) tail = "";
        if (tail.length > PENDING_SHOWN) tail = `${tail.slice(0, PENDING_SHOWN)} …`;
      }
      if (pending.textContent !== tail) pending.textContent = tail;
      placePending();
      dirty = true;
    },
    frame(t) {
      const all = total();
      const headX = Math.round((t / all) * width * 2) / 2;
      if (headX !== shown.head) { playhead.style.transform = `translateX(${headX}px)`; shown.head = headX; }
      const p = Math.round((t / all) * 1000) / 1000, b = Math.round((s.bufferedEnd / all) * 1000) / 1000;
      if (p !== shown.played) { played.style.transform = `scaleX(${p})`; shown.played = p; }
      if (b !== shown.buffered) { buffered.style.transform = `scaleX(${b})`; shown.buffered = b; }
      const text = `${fmt(t)} / ${fmt(s.streamDone ? s.bufferedEnd : all)}`;
      if (text !== shown.clock) { clock.textContent = text; shown.clock = text; }
      if (dirty) draw();
    },
    refresh() {
      const playing = s.mode === "playing" || s.mode === "waiting";
      play.textContent = playing ? "❚❚" : "▶";
      play.setAttribute("aria-label", playing ? "Pause" : "Play");
      play.title = playing ? "Pause (space)" : "Play (space)";
      play.disabled = !s.chunks.length;
      stop.disabled = !s.chunks.length;
      unlockBtn.hidden = !s.blocked;
      const st = model.get("status") || s.status || "idle";
      const message = model.get("status_message") || "";
      let line = STATUS_TEXT[st] || st;
      if (st === "error") line = `error: ${message || "unknown error"}`;
      else if (s.mode === "waiting" && !s.streamDone) line = "buffering…";
      else if (message) line = `${line}: ${message}`;
      if (status.textContent !== line) status.textContent = line;
      status.dataset.status = st;
      root.dataset.status = st;
      root.dataset.mode = s.blocked ? "blocked" : s.mode;
      const m = model.get("metrics") || {};
      const parts = [];
      if (m.ttfa_ms != null) parts.push(`first audio ${Math.round(m.ttfa_ms)} ms`);
      if (m.rtf != null) parts.push(`RTF ${Number(m.rtf).toFixed(2)}`);
      if (m.audio_ms != null) parts.push(`${(m.audio_ms / 1000).toFixed(1)} s audio`);
      readout.textContent = parts.join(" · ");
      readout.title = "Time to first audio and real-time factor (synthesis time ÷ audio length)";
      timeline.hidden = model.get("show_timeline") === false;
      again.disabled = !(st === "done" || st === "error" || st === "idle");
      wav.disabled = !s.chunks.length;
      vtt.disabled = !s.words.length;
      syncLanes();
      if (s.streamDone && pending.parentNode) view.setText();
      dirty = true;
    },
    dispose() {
      if (flushing) cancelAnimationFrame(flushing);
      resize.disconnect();
      themeWatch.disconnect();
      scheme?.removeEventListener?.("change", recolor);
      root.remove();
    },
  };

  const seekToX = (clientX) => {
    const rect = track.getBoundingClientRect();
    seek(s, ((clientX - rect.left) / Math.max(1, rect.width)) * total());
  };
  root.addEventListener("pointerdown", () => { if (s.blocked || s.ctx?.state === "suspended") unlock(s); });
  play.addEventListener("click", () => togglePlay(s));
  stop.addEventListener("click", () => { pause(s, true); seek(s, 0); });
  unlockBtn.addEventListener("click", () => {
    unlock(s);
    if (s.mode !== "playing" && s.mode !== "waiting" && s.chunks.length) startFrom(s, s.anchorMedia);
  });
  again.addEventListener("click", () => model.send({ type: "speak_again" }));
  wav.addEventListener("click", () => download(wavBlob(s), "speech.wav"));
  vtt.addEventListener("click", () => download(new Blob([vttText(s)], { type: "text/vtt" }), "speech.vtt"));
  transcript.addEventListener("click", (e) => {
    const i = e.target?.dataset?.i;
    if (i !== undefined && s.words[+i]) { unlock(s); seek(s, s.words[+i].start); if (s.mode !== "playing") togglePlay(s); }
  });
  transcript.addEventListener("wheel", () => { userScrolledAt = performance.now(); }, { passive: true });
  transcript.addEventListener("touchmove", () => { userScrolledAt = performance.now(); }, { passive: true });
  track.addEventListener("click", (e) => seekToX(e.clientX));
  root.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLButtonElement && (e.key === " " || e.key === "Enter")) return; // the button acts
    let handled = true;
    if (e.key === " " || e.key === "k") togglePlay(s);
    else if (e.key === "ArrowRight") seek(s, mediaTime(s) + SEEK_STEP_MS);
    else if (e.key === "ArrowLeft") seek(s, mediaTime(s) - SEEK_STEP_MS);
    else if (e.key === "Home") seek(s, 0);
    else if (e.key === "End") seek(s, s.contiguousEnd);
    else handled = false;
    if (handled) { e.preventDefault(); e.stopPropagation(); }
  });

  view.addWords(s.words);
  view.setText();
  view.restyle();
  if (s.current >= 0) view.moveHighlight(s.current, s.current);
  view.refresh();
  return view;
}

// --- the read-only debug handle (tests and benchmarks) -----------------------------------------------

function debugHandle(s) {
  return {
    audioTime: () => mediaTime(s),
    get chunksReceived() { return s.debug.chunksReceived; },
    get firstChunkAt() { return s.debug.firstChunkAt; },
    get firstScheduledAt() { return s.debug.firstScheduledAt; },
    get highlightedIndex() { return s.current >= 0 ? s.order[s.current].index : -1; },
    get state() { return s.blocked ? "blocked" : s.mode; }, // idle|playing|waiting|paused|ended|blocked
    get info() {
      return { mode: s.mode, blocked: s.blocked, ctx: s.ctx ? s.ctx.state : null, bufferedEnd: s.bufferedEnd,
               contiguousEnd: s.contiguousEnd, streamDone: s.streamDone, chunks: s.chunks.length,
               lanes: lanesOf(s).map((l) => l.id), views: s.views.size };
    },
    get words() { return s.words.map((w) => ({ text: w.text, start: w.start, end: w.end, lane: w.lane })); },
    // performance.now() when each chunk arrived and when it was scheduled: [{at_ms, receivedAt, scheduledAt}]
    get chunkLog() { return s.debug.chunkLog.map((c) => ({ ...c })); },
    // per highlight change: how far (media ms) past the word's start the highlight reached it
    get lags() { return s.debug.lags.slice(); },
    // per animation frame while playing: performance.now(), media ms, and the lag of the highlight then
    // (media ms since the start of the word that should be lit, when the lit one is still another; else 0)
    get frames() { return { at: s.debug.frameAt.slice(), media: s.debug.frameMedia.slice(), lag: s.debug.frameLag.slice() }; },
  };
}

function stateFor(model) {
  const id = model.get("player_id") || "default";
  let s = players.get(id);
  if (!s) {
    s = createState(id, model);
    handles[id] = debugHandle(s);
  }
  return s;
}

export default {
  initialize({ model }) {
    const s = stateFor(model);
    s.model = model;
    s.text = model.get("text") || s.text;
    const st = model.get("status");
    if (st === "done" || st === "error") restore(s);
    const onCustom = (msg, buffers) => onMessage(s, msg, buffers);
    const onStatus = () => {
      const now = model.get("status");
      if ((now === "done" || now === "error") && s.chunks.length) endStream(s);
      refresh(s);
    };
    const onText = () => { s.text = model.get("text") || ""; for (const v of s.views) v.setText(); };
    const onChange = () => refresh(s);
    const changes = ["change:status_message", "change:metrics", "change:show_timeline", "change:lanes"];
    model.on("msg:custom", onCustom);
    model.on("change:status", onStatus);
    model.on("change:text", onText);
    for (const ev of changes) model.on(ev, onChange);
    return () => {
      model.off("msg:custom", onCustom);
      model.off("change:status", onStatus);
      model.off("change:text", onText);
      for (const ev of changes) model.off(ev, onChange);
      stopSources(s);
      clearTimeout(s.blockTimer);
      if (s.raf) cancelAnimationFrame(s.raf);
      players.delete(s.id);
      delete handles[s.id];
    };
  },
  render({ model, el }) {
    const s = stateFor(model);
    if (!s.chunks.length && !s.words.length) restore(s);
    try { ensureAudio(s); } catch (_) { /* no Web Audio: the transcript still shows */ }
    const view = makeView(s, el);
    s.views.add(view);
    el.__elevenPlayer = handles[s.id];
    wake(s);
    return () => {
      view.dispose();
      s.views.delete(view);
      if (!s.views.size && s.raf) { cancelAnimationFrame(s.raf); s.raf = 0; }
    };
  },
};
