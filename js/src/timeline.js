// @ts-check
// The timeline: a row per lane with a block per word (in the lane's colour; spoken words solid), a
// progress bar, a playhead and a labelled time axis. Drawn on a canvas only when something changed.
import { h } from "./dom.js";
import { wordRuns } from "./blocks.js";
import { axisTicks, nextStep } from "./format.js";
import { LANE_COLORS, colorOf, colorSlot, lanesOf } from "./state.js";
import { estimateTotal, nonSpaceCount } from "./words.js";

/** @typedef {import("./state.js").Player} Player */

const ROW_H = 16, ROW_GAP = 4, AXIS_H = 16; // CSS px
const HEAD_STEPS_PER_PX = 2; // the playhead moves by half pixels
const BAR_STEPS = 1000; // the progress bars' resolution

/** @param {Player} s @param {() => void} wake */
export function timelineView(s, wake) {
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
  /** @type {{lane: string, lanes: string[], spoken: string, current: string, muted: string, font: string} | null} */
  let colors = null;
  /** @type {unknown[]} */
  let drawn = []; // what the canvas shows now (see draw)
  /** @type {object | null} */
  let drawnColors = null;

  const resize = new ResizeObserver((entries) => {
    const w = Math.round(entries[0].contentRect.width);
    if (w !== width) { width = w; dirty = true; wake(); }
  });
  resize.observe(track);
  // a canvas whose 2D bitmap the browser dropped (memory pressure) comes back blank: draw it again
  canvas.addEventListener("contextrestored", () => { drawn = []; dirty = true; wake(); });

  /** The timeline's length: the audio so far, or while streaming one voice an estimate of the whole. */
  function total() {
    if (s.streamDone || lanesOf(s).length > 1) return Math.max(s.bufferedEnd, 1);
    if (countedText !== s.text) { countedText = s.text; textChars = nonSpaceCount(s.text); }
    return estimateTotal(s.bufferedEnd, s.alignedChars, textChars);
  }

  /** @param {HTMLElement} themed  an element inside the player, for its CSS variables */
  function readColors(themed) {
    const cs = getComputedStyle(themed);
    /** @param {string} name @param {string} fallback */
    const v = (name, fallback) => cs.getPropertyValue(name).trim() || fallback;
    const lanes = [];
    for (let i = 0; i < LANE_COLORS; i++) lanes.push(v(`--enb-lane-${i}`, "#1976d2"));
    colors = { lane: v("--enb-bg2", "#eee"), lanes, spoken: v("--enb-block-spoken", "#90caf9"),
               current: v("--enb-fg1", "#000"), muted: v("--enb-muted", "#777"),
               font: `10px ${cs.fontFamily || "sans-serif"}` };
    return colors;
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
    // every kernel message marks the canvas changed; drawing the same picture again is a repaint for nothing
    const order = s.list.order;
    const picture = [width, dpr, laneKey, s.list.version, s.current, total(), s.bufferedEnd];
    if (c === drawnColors && picture.every((v, i) => v === drawn[i])) return;
    drawn = picture;
    drawnColors = c;
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(cssH * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(cssH * dpr);
      canvas.style.height = `${cssH}px`;
      fontSet = ""; // resizing a canvas resets its context
    }
    const g = canvas.getContext("2d");
    if (!g) return;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, width, cssH);
    g.fillStyle = c.lane;
    for (let i = 0; i < rows; i++) g.fillRect(0, i * (ROW_H + ROW_GAP), width, ROW_H);
    const all = total();
    const laneAt = new Map(lanes.map((l, i) => [l.id, { row: i, color: colorSlot(i) }]));
    const other = { row: 0, color: 0 }; // a word of a lane not (yet) declared: the first row, as before
    const runs = wordRuns(order, s.current, width / all, (lane) => laneAt.get(lane) ?? other);
    let style = "", alpha = -1;
    for (const r of runs) {
      const y = r.row * (ROW_H + ROW_GAP) + 3, a = r.solid ? 1 : 0.4; // spoken: solid; still to come: faint
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
    // setting a font makes the browser resolve style and layout for the canvas: only when it changes
    if (fontSet !== c.font) { g.font = c.font; fontSet = c.font; }
    g.textBaseline = "top";
    for (const t of axisTicks(s.bufferedEnd > 0 ? all : 0, width)) {
      g.fillRect(Math.min(t.x, width - 1), y0, 1, 4);
      g.textAlign = t.align;
      g.fillText(t.label, t.align === "left" ? t.x + 2 : width - 1, y0 + 4);
    }
  }

  return {
    root, track, total,
    changed() { dirty = true; },
    recolor() { colors = null; dirty = true; },
    /** @param {boolean} hidden */
    setHidden(hidden) { if (root.hidden !== hidden) root.hidden = hidden; },
    syncLanes,
    /** The playhead and bars at `t`; gives when one of them next moves. @param {number} t */
    frame(t) {
      if (root.hidden) return Infinity; // nothing shown moves; the frame after it is shown again draws it
      const all = total();
      const headStep = all / Math.max(1, width * HEAD_STEPS_PER_PX), barStep = all / BAR_STEPS;
      const headX = Math.round(t / headStep) / HEAD_STEPS_PER_PX;
      if (headX !== shown.head) { playhead.style.transform = `translateX(${headX}px)`; shown.head = headX; }
      const p = Math.round(t / barStep) / BAR_STEPS, b = Math.round(s.bufferedEnd / barStep) / BAR_STEPS;
      if (p !== shown.played) { played.style.transform = `scaleX(${p})`; shown.played = p; }
      if (b !== shown.buffered) { buffered.style.transform = `scaleX(${b})`; shown.buffered = b; }
      if (dirty) draw();
      return Math.min(nextStep(t, headStep), nextStep(t, barStep));
    },
    /** The media time under a click. @param {number} clientX */
    timeAt(clientX) {
      const rect = track.getBoundingClientRect();
      return ((clientX - rect.left) / Math.max(1, rect.width)) * total();
    },
    dispose() { resize.disconnect(); },
  };
}
