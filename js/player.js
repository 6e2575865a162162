// eleven_nb player: plays streamed PCM chunks gaplessly with Web Audio and keeps a transcript and a
// timeline in step with the audio clock. One plain ES module for anywidget; no build step.
//
// Kernel -> browser messages ("msg:custom"):
//   {type: "begin", text, lanes}                     a new utterance: reset
//   {type: "chunk", lane, at_ms, sample_rate, chars, starts_ms, durations_ms} + buffers[0] = int16 PCM
//   {type: "status", status, message}   {type: "metrics", ...}   {type: "stop"}
// Browser -> kernel: {type: "speak_again"}.
// Play, pause, seek and the highlight all live here, so they work while the kernel is busy.

const players = new Map(); // player_id -> state (initialize() and render() get different model proxies)
globalThis.__elevenPlayers = globalThis.__elevenPlayers || {};

const SEEK_STEP_MS = 2000;
const PENDING_SHOWN = 600; // characters of not-yet-spoken text shown after the spoken ones
const START_LEAD_S = 0.03; // schedule slightly ahead so the first samples are not cut

function newState(model) {
  const state = {
    model,
    ctx: null,
    chunks: [], // {lane, at, dur, buffer: AudioBuffer, pcm: Int16Array, rate}
    words: [], // {lane, text, start, end, el, block}
    lanes: [],
    turnLane: null,
    bufferedEnd: 0,
    playing: false,
    stalled: false,
    mediaAtStart: 0,
    ctxStart: 0,
    sources: [],
    current: -1,
    views: new Set(),
    streamDone: false,
    blocked: false,
    pendingChars: {}, // lane -> partial word being built from chars
    debug: { chunksReceived: 0, firstChunkAt: null, firstScheduledAt: null, lags: [], receivedAt: [] },
  };
  return state;
}

function ensureContext(state) {
  if (!state.ctx) {
    const Ctx = globalThis.AudioContext || globalThis.webkitAudioContext;
    state.ctx = new Ctx();
  }
  return state.ctx;
}

function mediaNow(state) {
  if (!state.playing || state.stalled || !state.ctx) return state.mediaAtStart;
  const t = state.mediaAtStart + (state.ctx.currentTime - state.ctxStart) * 1000;
  return Math.min(t, state.bufferedEnd);
}

function stopSources(state) {
  for (const s of state.sources) {
    try { s.onended = null; s.stop(); } catch (_) { /* already stopped */ }
  }
  state.sources = [];
}

function scheduleChunk(state, chunk) {
  const ctx = state.ctx;
  const offsetMs = Math.max(0, state.mediaAtStart - chunk.at);
  if (offsetMs >= chunk.dur) return;
  const when = state.ctxStart + Math.max(0, chunk.at - state.mediaAtStart) / 1000;
  const src = ctx.createBufferSource();
  src.buffer = chunk.buffer;
  src.connect(ctx.destination);
  src.start(when, offsetMs / 1000);
  state.sources.push(src);
  if (state.debug.firstScheduledAt === null) state.debug.firstScheduledAt = performance.now();
}

function startFrom(state, ms) {
  const ctx = ensureContext(state);
  stopSources(state);
  state.mediaAtStart = Math.max(0, Math.min(ms, state.bufferedEnd));
  state.ctxStart = ctx.currentTime + START_LEAD_S;
  state.playing = true;
  state.stalled = false;
  for (const chunk of state.chunks) scheduleChunk(state, chunk);
  if (ctx.state === "suspended") {
    ctx.resume().then(() => { state.blocked = false; refresh(state); }).catch(() => {});
    state.blocked = ctx.state === "suspended";
  }
  refresh(state);
}

function pause(state, byUser = false) {
  if (byUser) state.userPaused = true;
  state.mediaAtStart = mediaNow(state);
  state.playing = false;
  state.stalled = false;
  stopSources(state);
  refresh(state);
}

function seek(state, ms) {
  if (state.playing) startFrom(state, ms);
  else { state.mediaAtStart = Math.max(0, Math.min(ms, state.bufferedEnd)); refresh(state); }
  highlight(state, true);
}

function togglePlay(state) {
  if (state.playing) pause(state, true);
  else startFrom(state, state.mediaAtStart >= state.bufferedEnd - 1 ? 0 : state.mediaAtStart);
}

// --- incoming data -------------------------------------------------------------------------------

function int16From(view) {
  // buffers arrive as DataView, maybe at an odd offset: copy before viewing as Int16
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const copy = new Uint8Array(bytes.length - (bytes.length % 2));
  copy.set(bytes.subarray(0, copy.length));
  return new Int16Array(copy.buffer);
}

function addAudio(state, lane, at, pcm, rate) {
  const ctx = ensureContext(state);
  const dur = (pcm.length / rate) * 1000;
  let buffer = null;
  if (pcm.length) {
    buffer = ctx.createBuffer(1, pcm.length, rate);
    const data = buffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) data[i] = pcm[i] / 32768;
  }
  const chunk = { lane, at, dur, buffer, pcm, rate };
  if (buffer) state.chunks.push(chunk);
  state.bufferedEnd = Math.max(state.bufferedEnd, at + dur);
  return chunk;
}

function addChars(state, lane, chars, starts, durs) {
  // words are runs of non-space characters; a word may continue into the next chunk
  let word = state.pendingChars[lane] || null;
  const finished = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (/\s/.test(c)) {
      if (word) { finished.push(word); word = null; }
      continue;
    }
    if (!word) word = { lane, text: "", start: starts[i], end: starts[i] + durs[i] };
    word.text += c;
    word.end = Math.max(word.end, starts[i] + durs[i]);
  }
  state.pendingChars[lane] = word;
  return finished;
}

function flushWords(state) {
  const out = [];
  for (const lane of Object.keys(state.pendingChars)) {
    if (state.pendingChars[lane]) out.push(state.pendingChars[lane]);
    state.pendingChars[lane] = null;
  }
  return out;
}

function onChunk(state, msg, buffers) {
  const d = state.debug;
  const now = performance.now();
  d.chunksReceived += 1;
  d.receivedAt.push(now);
  if (d.firstChunkAt === null) d.firstChunkAt = now;
  const chunk = addAudio(state, msg.lane, msg.at_ms, buffers && buffers[0] ? int16From(buffers[0]) : new Int16Array(0), msg.sample_rate);
  const words = addChars(state, msg.lane, msg.chars || [], msg.starts_ms || [], msg.durations_ms || []);
  appendWords(state, words, msg.lane);
  if (state.playing && chunk.buffer) {
    if (state.stalled) startFrom(state, state.mediaAtStart); // the clock waited for this chunk
    else scheduleChunk(state, chunk);
  } else if (!state.playing && state.chunks.length === 1 && chunk.buffer && !state.userPaused) {
    startFrom(state, 0); // play the first chunk as soon as it arrives
  }
  refresh(state);
}

function appendWords(state, words, lane) {
  for (const w of words) {
    w.index = state.words.length;
    state.words.push(w);
  }
  if (!state.lanes.includes(lane)) state.lanes.push(lane);
  for (const view of state.views) view.addWords(words);
}

function onMessage(state, msg, buffers) {
  switch (msg.type) {
    case "begin":
      stopSources(state);
      Object.assign(state, newState(state.model), { ctx: state.ctx, views: state.views });
      for (const view of state.views) view.reset();
      break;
    case "chunk":
      onChunk(state, msg, buffers);
      break;
    case "status":
      if (msg.status === "done" || msg.status === "error") {
        state.streamDone = true;
        appendWords(state, flushWords(state), state.lanes[state.lanes.length - 1] || "speech");
      }
      if (msg.message === "interrupted") pause(state);
      refresh(state);
      break;
    case "stop":
      pause(state);
      break;
    default:
      refresh(state);
  }
}

// Rebuild from synced state (a re-rendered or reopened output, after the stream ended).
function restore(state) {
  if (state.chunks.length || !state.model.get("words")?.length) return;
  const view = state.model.get("audio");
  const rate = state.model.get("sample_rate") || 22050;
  if (view && view.byteLength) addAudio(state, "speech", 0, int16From(view), rate);
  const words = state.model.get("words").map((w) => ({ lane: w.lane, text: w.text, start: w.start_ms, end: w.end_ms }));
  for (const w of words) if (!state.lanes.includes(w.lane)) state.lanes.push(w.lane);
  for (const w of words) { w.index = state.words.length; state.words.push(w); }
  state.streamDone = true;
}

// --- highlight loop ----------------------------------------------------------------------------

function wordAt(words, t) {
  let lo = 0, hi = words.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (words[mid].start <= t) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found;
}

function highlight(state, force) {
  const t = mediaNow(state);
  if (state.playing && !state.stalled && !state.streamDone && t >= state.bufferedEnd - 1) {
    state.stalled = true; // out of audio while more is coming: the clock waits here
    state.mediaAtStart = state.bufferedEnd;
  } else if (state.playing && state.streamDone && t >= state.bufferedEnd - 1) {
    state.playing = false; // the end
    state.mediaAtStart = state.bufferedEnd;
    stopSources(state);
    refresh(state);
  }
  const index = wordAt(state.words, t);
  if (index !== state.current && index >= 0 && state.playing && !force) {
    // how long after the audio clock entered this word the highlight moved to it
    state.debug.lags.push(t - state.words[index].start);
  }
  if (index !== state.current || force) {
    const previous = state.current;
    state.current = index;
    for (const view of state.views) view.moveHighlight(previous, index);
  }
  for (const view of state.views) view.tick(t);
}

function loop(state) {
  highlight(state, false);
  state.raf = requestAnimationFrame(() => loop(state));
}

// --- the view ------------------------------------------------------------------------------------

function h(tag, cls, text) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text !== undefined) el.textContent = text;
  return el;
}

function fmt(ms) {
  const s = Math.max(0, ms) / 1000;
  return `${Math.floor(s / 60)}:${(s % 60).toFixed(1).padStart(4, "0")}`;
}

function wavBlob(state) {
  const rate = state.chunks[0]?.rate || 22050;
  const total = Math.ceil((state.bufferedEnd / 1000) * rate);
  const pcm = new Int16Array(total);
  for (const c of state.chunks) {
    const at = Math.round((c.at / 1000) * rate);
    pcm.set(c.pcm.subarray(0, Math.max(0, Math.min(c.pcm.length, total - at))), at);
  }
  const header = new DataView(new ArrayBuffer(44));
  const put = (o, s) => { for (let i = 0; i < s.length; i++) header.setUint8(o + i, s.charCodeAt(i)); };
  put(0, "RIFF"); header.setUint32(4, 36 + pcm.byteLength, true); put(8, "WAVE"); put(12, "fmt ");
  header.setUint32(16, 16, true); header.setUint16(20, 1, true); header.setUint16(22, 1, true);
  header.setUint32(24, rate, true); header.setUint32(28, rate * 2, true); header.setUint16(32, 2, true);
  header.setUint16(34, 16, true); put(36, "data"); header.setUint32(40, pcm.byteLength, true);
  return new Blob([header.buffer, pcm.buffer], { type: "audio/wav" });
}

function vttText(state) {
  const clock = (ms) => {
    const t = Math.max(0, Math.round(ms));
    const hh = String(Math.floor(t / 3600000)).padStart(2, "0");
    const mm = String(Math.floor(t / 60000) % 60).padStart(2, "0");
    const ss = String(Math.floor(t / 1000) % 60).padStart(2, "0");
    return `${hh}:${mm}:${ss}.${String(t % 1000).padStart(3, "0")}`;
  };
  const cues = [];
  let group = [];
  const close = () => {
    if (!group.length) return;
    const speaker = state.lanes.length > 1 ? `<v ${group[0].lane}>` : "";
    cues.push(`${clock(group[0].start)} --> ${clock(group[group.length - 1].end)}\n${speaker}${group.map((w) => w.text).join(" ")}`);
    group = [];
  };
  for (const w of state.words) {
    if (group.length && (group[0].lane !== w.lane || group.map((x) => x.text).join(" ").length + w.text.length > 42)) close();
    group.push(w);
    if (/[.!?]$/.test(w.text)) close();
  }
  close();
  return `WEBVTT\n\n${cues.join("\n\n")}\n`;
}

function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function makeView(state, el, model) {
  const root = h("div", "enb-player");
  root.tabIndex = 0;
  root.setAttribute("role", "group");
  root.setAttribute("aria-label", "eleven_nb speech player");
  root.dataset.playerId = model.get("player_id");
  const bar = h("div", "enb-bar");
  const play = h("button", "enb-btn enb-play", "▶");
  play.title = "Play / pause (space)";
  const stop = h("button", "enb-btn enb-stop", "■");
  stop.title = "Stop";
  const clock = h("span", "enb-clock", "0:00.0");
  const status = h("span", "enb-status");
  status.setAttribute("aria-live", "polite");
  const readout = h("span", "enb-readout");
  const again = h("button", "enb-btn enb-again", "Speak again");
  const wav = h("button", "enb-btn enb-wav", "WAV");
  wav.title = "Download the audio (WAV)";
  const vtt = h("button", "enb-btn enb-vtt", "VTT");
  vtt.title = "Download the captions (WebVTT)";
  bar.append(play, stop, clock, status, readout, again, wav, vtt);
  const unlock = h("button", "enb-unlock", "🔇 The browser blocked audio. Click to enable it.");
  unlock.hidden = true;
  const transcript = h("div", "enb-transcript");
  const plain = h("div", "enb-sr-only");
  plain.setAttribute("aria-label", "transcript");
  const pending = h("span", "enb-pending");
  const timeline = h("div", "enb-timeline");
  const progress = h("div", "enb-progress");
  const buffered = h("div", "enb-buffered");
  const played = h("div", "enb-played");
  const playhead = h("div", "enb-playhead");
  progress.append(buffered, played);
  const lanesBox = h("div", "enb-lanes");
  timeline.append(progress, lanesBox, playhead);
  root.append(bar, unlock, transcript, timeline, plain);
  el.appendChild(root);

  const laneRows = new Map(); // lane -> {row, inner}
  let lanesWidth = 0;
  const resize = new ResizeObserver((entries) => { lanesWidth = entries[0].contentRect.width; });
  resize.observe(lanesBox);
  let paragraph = null, paragraphLane = null;
  const wordEls = []; // index -> span
  const blockEls = [];

  function laneRow(lane) {
    if (!laneRows.has(lane)) {
      const row = h("div", "enb-lane");
      row.dataset.lane = lane;
      const label = h("span", "enb-lane-label", lane);
      const inner = h("div", "enb-lane-inner");
      row.append(label, inner);
      lanesBox.appendChild(row);
      laneRows.set(lane, { row, inner });
    }
    return laneRows.get(lane);
  }

  const view = {
    reset() {
      transcript.textContent = "";
      lanesBox.textContent = "";
      laneRows.clear();
      wordEls.length = 0;
      blockEls.length = 0;
      paragraph = null;
      paragraphLane = null;
      pending.textContent = "";
      renderText();
    },
    addWords(words) {
      const frag = document.createDocumentFragment();
      const blocks = new Map();
      for (const w of words) {
        if (w.lane !== paragraphLane || !paragraph) {
          paragraph = h("p", "enb-turn");
          if (state.lanes.length > 1 || (model.get("lanes") || []).length > 1) paragraph.appendChild(h("span", "enb-speaker", `${w.lane}: `));
          paragraphLane = w.lane;
          frag.appendChild(paragraph);
        }
        const span = h("span", "enb-word", w.text);
        span.dataset.i = w.index;
        paragraph.appendChild(span);
        paragraph.appendChild(document.createTextNode(" "));
        wordEls[w.index] = span;
        const block = h("span", "enb-block");
        block.style.left = `${w.start}px`;
        block.style.width = `${Math.max(1, w.end - w.start)}px`;
        block.title = w.text;
        block.dataset.i = w.index;
        blockEls[w.index] = block;
        if (!blocks.has(w.lane)) blocks.set(w.lane, document.createDocumentFragment());
        blocks.get(w.lane).appendChild(block);
      }
      transcript.insertBefore(frag, pending.parentNode === transcript ? pending : null);
      for (const [lane, f] of blocks) laneRow(lane).inner.appendChild(f);
      renderText();
    },
    moveHighlight(previous, index) {
      // spoken words before the current one; only the range that changed is touched
      const lo = Math.min(previous, index), hi = Math.max(previous, index);
      for (let i = Math.max(0, lo); i <= hi && i < wordEls.length; i++) {
        const spoken = i < index;
        wordEls[i]?.classList.toggle("enb-spoken", spoken);
        blockEls[i]?.classList.toggle("enb-spoken", spoken);
      }
      if (previous >= 0) { wordEls[previous]?.classList.remove("enb-current"); blockEls[previous]?.classList.remove("enb-current"); }
      if (index >= 0) { wordEls[index]?.classList.add("enb-current"); blockEls[index]?.classList.add("enb-current"); }
    },
    tick(t) {
      const total = Math.max(state.bufferedEnd, 1);
      const width = lanesWidth || 600; // cached: reading layout every frame would force a relayout
      const scale = width / total;
      for (const { inner } of laneRows.values()) inner.style.transform = `scaleX(${scale})`;
      playhead.style.left = `${(t / total) * 100}%`;
      played.style.width = `${(t / total) * 100}%`;
      buffered.style.width = "100%";
      clock.textContent = `${fmt(t)} / ${fmt(state.bufferedEnd)}`;
    },
    refresh() {
      play.textContent = state.playing ? "❚❚" : "▶";
      play.setAttribute("aria-label", state.playing ? "Pause" : "Play");
      unlock.hidden = !state.blocked;
      const st = model.get("status") || "idle";
      const message = model.get("status_message") || "";
      status.textContent = st === "error" ? `error: ${message}` : (state.stalled && st === "streaming" ? "buffering…" : (message ? `${st}: ${message}` : st));
      status.dataset.status = st;
      root.dataset.status = st;
      const m = model.get("metrics") || {};
      const parts = [];
      if (m.ttfa_ms != null) parts.push(`first audio ${Math.round(m.ttfa_ms)} ms`);
      if (m.rtf != null) parts.push(`RTF ${m.rtf.toFixed(2)}`);
      readout.textContent = parts.join(" · ");
      timeline.hidden = model.get("show_timeline") === false;
      again.disabled = !(st === "done" || st === "error");
    },
  };

  function renderText() {
    const text = model.get("text") || "";
    plain.textContent = text;
    // single voice: what is not yet aligned shows as pending text
    const aligned = state.words.reduce((n, w) => n + w.text.length, 0);
    if (state.lanes.length <= 1 && !state.streamDone) {
      const rest = text.replace(/\s+/g, " ").trim();
      let i = 0, seen = 0;
      while (i < rest.length && seen < aligned) { if (!/\s/.test(rest[i])) seen++; i++; }
      const left = rest.slice(i);
      // only the next stretch: re-laying out a 20,000-character tail on every chunk would stall the page
      pending.textContent = left.length > PENDING_SHOWN ? left.slice(0, PENDING_SHOWN) + " …" : left;
      if (pending.parentNode !== transcript) transcript.appendChild(pending);
    } else if (pending.parentNode) pending.remove();
  }

  play.addEventListener("click", () => togglePlay(state));
  stop.addEventListener("click", () => { pause(state, true); seek(state, 0); });
  unlock.addEventListener("click", () => { state.blocked = false; startFrom(state, state.mediaAtStart); });
  again.addEventListener("click", () => model.send({ type: "speak_again" }));
  wav.addEventListener("click", () => download(wavBlob(state), "speech.wav"));
  vtt.addEventListener("click", () => download(new Blob([vttText(state)], { type: "text/vtt" }), "speech.vtt"));
  transcript.addEventListener("click", (e) => {
    const i = e.target?.dataset?.i;
    if (i !== undefined) seek(state, state.words[+i].start);
  });
  lanesBox.addEventListener("click", (e) => {
    const rect = lanesBox.getBoundingClientRect();
    seek(state, ((e.clientX - rect.left) / Math.max(1, rect.width)) * state.bufferedEnd);
  });
  progress.addEventListener("click", (e) => {
    const rect = progress.getBoundingClientRect();
    seek(state, ((e.clientX - rect.left) / Math.max(1, rect.width)) * state.bufferedEnd);
  });
  root.addEventListener("keydown", (e) => {
    if (e.key === " ") { e.preventDefault(); togglePlay(state); }
    else if (e.key === "ArrowRight") { e.preventDefault(); seek(state, mediaNow(state) + SEEK_STEP_MS); }
    else if (e.key === "ArrowLeft") { e.preventDefault(); seek(state, mediaNow(state) - SEEK_STEP_MS); }
  });

  view.addWords(state.words);
  for (const lane of state.lanes) laneRow(lane);
  view.refresh();
  return view;
}

function refresh(state) {
  for (const view of state.views) view.refresh();
}

function stateFor(model) {
  const id = model.get("player_id");
  if (!players.has(id)) {
    const state = newState(model);
    players.set(id, state);
    globalThis.__elevenPlayers[id] = {
      audioTime: () => mediaNow(state),
      get chunksReceived() { return state.debug.chunksReceived; },
      get firstChunkAt() { return state.debug.firstChunkAt; },
      get firstScheduledAt() { return state.debug.firstScheduledAt; },
      get highlightedIndex() { return state.current; },
      get words() { return state.words.map((w) => ({ text: w.text, start: w.start, end: w.end, lane: w.lane })); },
      get lags() { return state.debug.lags; },
      get state() { return { playing: state.playing, stalled: state.stalled, blocked: state.blocked, bufferedEnd: state.bufferedEnd, ctx: state.ctx?.state }; },
      seek: (ms) => seek(state, ms),
      togglePlay: () => togglePlay(state),
    };
  }
  return players.get(id);
}

export default {
  initialize({ model }) {
    const state = stateFor(model);
    state.model = model;
    restore(state);
    const onCustom = (msg, buffers) => onMessage(state, msg, buffers);
    const onChange = () => refresh(state);
    model.on("msg:custom", onCustom);
    model.on("change:status", onChange);
    model.on("change:status_message", onChange);
    model.on("change:metrics", onChange);
    model.on("change:show_timeline", onChange);
    return () => {
      model.off("msg:custom", onCustom);
      model.off("change:status", onChange);
      model.off("change:status_message", onChange);
      model.off("change:metrics", onChange);
      model.off("change:show_timeline", onChange);
    };
  },
  render({ model, el }) {
    const state = stateFor(model);
    restore(state);
    ensureContext(state); // created before the first chunk: building it costs tens of ms
    const view = makeView(state, el, model);
    state.views.add(view);
    const onText = () => view.refresh();
    model.on("change:text", onText);
    if (!state.raf) loop(state);
    return () => {
      state.views.delete(view);
      model.off("change:text", onText);
      if (!state.views.size && state.raf) { cancelAnimationFrame(state.raf); state.raf = null; }
    };
  },
};
