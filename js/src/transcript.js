// @ts-check
// The transcript: one span per word (the spoken ones lit, the current one highlighted), the text not yet
// aligned dimmed after them, and a plain copy for screen readers. Many words at once (a reopened output,
// a long text) are added a batch per frame, so no task runs long.
import { h } from "./dom.js";
import { colorOf, labelOf, lanesOf } from "./state.js";
import { alignedEnd, pendingTail } from "./words.js";

/** @typedef {import("./state.js").Player} Player */
/** @typedef {import("./words.js").Word} Word */

const PENDING_SHOWN = 600; // characters of not-yet-spoken text shown after the spoken words
const DOM_BATCH = 500; // words added per task when many come at once
const FOLLOW_PAUSE_MS = 4000; // after the user scrolls the transcript, it stops following the voice
// A turn's words go into paragraphs of about this many, cut at a sentence's end: the browser lays out a
// paragraph whole whenever a word is added to it, and one <p> of 3,000+ words took ~26 ms a layout, many
// times a second, while a long cell streamed (6 ms in blocks of 100, same page)
const BLOCK_WORDS = 100;
const SENTENCE_END = /[.!?…。！？]["'”’)\]]*$/;

/** @param {Player} s @param {() => void} changed  something the timeline draws changed */
export function transcriptView(s, changed) {
  const box = h("div", "enb-transcript");
  box.setAttribute("aria-hidden", "true"); // the plain copy is what screen readers read
  const pending = h("span", "enb-pending");
  const plain = h("div", "enb-sr-only");
  plain.setAttribute("aria-live", "polite");
  plain.setAttribute("aria-label", "Transcript");
  let plainText = "";
  /** @type {HTMLSpanElement[]} */
  const spans = []; // word index -> span
  /** @type {HTMLParagraphElement | null} */
  let paragraph = null;
  /** @type {string | null} */
  let paragraphLane = null;
  let paragraphWords = 0;
  let userScrolledAt = -1e9;
  /** @type {{text: string, aligned: number, index: number} | null} */
  let aligned = null; // where the aligned text ended last time
  /** @type {Word[]} */
  const queue = []; // words waiting for their spans
  let flushing = 0;

  /** @param {HTMLElement | undefined} span */
  function follow(span) { // keep the spoken word in view inside the transcript (never scroll the page)
    if (!span) return;
    const overflows = box.scrollHeight > box.clientHeight;
    if (overflows) box.classList.add("enb-full"); // its height is fixed from now on (see player.css)
    if (!overflows || performance.now() - userScrolledAt < FOLLOW_PAUSE_MS) return;
    const top = span.offsetTop, bottom = top + span.offsetHeight;
    if (top < box.scrollTop || bottom > box.scrollTop + box.clientHeight) box.scrollTop = Math.max(0, top - box.clientHeight / 3);
  }

  function placePending() { // the unspoken tail flows on after the last word, in the same paragraph
    const host = paragraph || box;
    if (!pending.textContent) { if (pending.parentNode) pending.remove(); }
    else if (pending.parentNode !== host || host.lastChild !== pending) host.appendChild(pending);
  }

  /** @param {Word[]} words */
  function appendWords(words) {
    if (!words.length) return;
    const order = s.list.order;
    const current = s.current >= 0 ? order[s.current] : null;
    const frag = document.createDocumentFragment();
    if (pending.parentNode) pending.remove(); // put back after the new words, in the last paragraph
    for (const w of words) {
      if (!paragraph || w.lane !== paragraphLane) {
        paragraph = h("p", "enb-turn");
        const speaker = h("span", "enb-speaker", `${labelOf(s, w.lane)}: `);
        speaker.dataset.color = String(colorOf(s, w.lane));
        paragraph.appendChild(speaker);
        paragraphLane = w.lane;
        paragraphWords = 0;
        frag.appendChild(paragraph);
      } else if (paragraphWords >= 3 * BLOCK_WORDS // text without sentence ends is cut anyway
                 || (paragraphWords >= BLOCK_WORDS && SENTENCE_END.test(paragraph.lastElementChild?.textContent || ""))) {
        paragraph = h("p", "enb-turn enb-more"); // the same turn goes on, in a paragraph of its own
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

  box.addEventListener("wheel", () => { userScrolledAt = performance.now(); }, { passive: true });
  box.addEventListener("touchmove", () => { userScrolledAt = performance.now(); }, { passive: true });

  return {
    box, plain,
    reset() {
      queue.length = 0;
      if (flushing) { cancelAnimationFrame(flushing); flushing = 0; }
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
      if (text !== plainText) { // the screen-reader copy only ever gets what is new
        if (text.startsWith(plainText)) plain.appendChild(document.createTextNode(text.slice(plainText.length)));
        else plain.textContent = text;
        plainText = text;
      }
      // one voice, still streaming: the text not yet aligned shows, dimmed, after the spoken words
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
      const i = target instanceof HTMLElement ? target.dataset.i : undefined;
      return i === undefined ? -1 : +i;
    },
    dispose() {
      if (flushing) cancelAnimationFrame(flushing);
    },
  };
}
