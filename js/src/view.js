// @ts-check
// One rendered output of a player: the control bar, the transcript, the timeline, and their events.
import { controlsView } from "./controls.js";
import { h, setText } from "./dom.js";
import { captions, download, wavBlob } from "./downloads.js";
import { wake } from "./loop.js";
import { playByHand, seek, stopByUser, togglePlay, unlock } from "./playback.js";
import { lanesOf } from "./state.js";
import { timelineView } from "./timeline.js";
import { traceTable } from "./trace.js";
import { transcriptView } from "./transcript.js";

/** @typedef {import("./state.js").Player} Player */
/** @typedef {import("./state.js").View} View */

const SEEK_STEP_MS = 2000;

/** @param {Player} s @param {HTMLElement} el @returns {View} */
export function makeView(s, el) {
  const model = s.model;
  const root = h("div", "enb-player");
  root.tabIndex = 0;
  root.setAttribute("role", "region");
  root.setAttribute("aria-label", "Speech player. Space plays or pauses, arrow keys seek.");
  root.setAttribute("data-lm-suppress-shortcuts", "true"); // JupyterLab leaves our keys alone
  root.dataset.playerId = s.id;

  const controls = controlsView(s);
  const timeline = timelineView(s, () => wake(s));
  const transcript = transcriptView(s, () => timeline.changed());
  root.append(controls.bar, controls.unlockBtn, transcript.box, timeline.root, transcript.plain);
  const tracePre = s.debug.on ? h("pre", "enb-trace") : null; // debug: the utterance's stage times
  if (tracePre) root.append(tracePre);
  el.appendChild(root);

  const recolor = () => { timeline.recolor(); wake(s); };
  const themeWatch = new MutationObserver(recolor); // JupyterLab switches theme by body attributes
  themeWatch.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name", "class"] });
  const scheme = typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: dark)") : null;
  scheme?.addEventListener("change", recolor);

  /** @type {View} */
  const view = {
    root,
    reset() { transcript.reset(); timeline.changed(); view.setText(); },
    addWords(words) { transcript.addWords(words); },
    growWord(w) { transcript.growWord(w); timeline.changed(); },
    moveHighlight(previous, k) { transcript.moveHighlight(previous, k); timeline.changed(); },
    restyle() { transcript.restyle(); timeline.changed(); },
    setText() { transcript.setText(); timeline.changed(); },
    frame(t) { return Math.min(controls.frame(t, timeline.total()), timeline.frame(t)); },
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
    },
  };

  root.addEventListener("pointerdown", () => { if (s.blocked || s.ctx?.state === "suspended") unlock(s); });
  controls.play.addEventListener("click", () => togglePlay(s));
  // the kernel stops making this player's speech too, so the cells after it need not wait for it
  controls.stop.addEventListener("click", () => { stopByUser(s); model.send({ type: "stopped" }); });
  controls.unlockBtn.addEventListener("click", () => { unlock(s); if (s.mode !== "playing" && s.mode !== "waiting") playByHand(s); });
  controls.again.addEventListener("click", () => { s.wantsNow = true; unlock(s); model.send({ type: "speak_again" }); });
  controls.wav.addEventListener("click", () => download(wavBlob(s), "speech.wav"));
  controls.vtt.addEventListener("click", () => download(new Blob([captions(s)], { type: "text/vtt" }), "speech.vtt"));
  transcript.box.addEventListener("click", (e) => { // a word: play from its start
    const i = transcript.wordIndexAt(e.target);
    if (i >= 0 && s.list.words[i]) playByHand(s, s.list.words[i].start);
  });
  timeline.root.addEventListener("click", (e) => playByHand(s, timeline.timeAt(e.clientX))); // the same as a word
  root.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLButtonElement && (e.key === " " || e.key === "Enter")) return; // the button acts
    let handled = true;
    if (e.key === " " || e.key === "k") togglePlay(s);
    else if (e.key === "ArrowRight") seek(s, controls.now() + SEEK_STEP_MS);
    else if (e.key === "ArrowLeft") seek(s, controls.now() - SEEK_STEP_MS);
    else if (e.key === "Home") seek(s, 0);
    else if (e.key === "End") seek(s, s.contiguousEnd);
    else handled = false;
    if (handled) { e.preventDefault(); e.stopPropagation(); }
  });

  transcript.addWords(s.list.words);
  view.setText();
  transcript.restyle();
  if (s.current >= 0) transcript.moveHighlight(s.current, s.current);
  view.refresh();
  return view;
}
