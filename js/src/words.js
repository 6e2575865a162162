// @ts-check
// The words the kernel sends, kept in arrival order (the DOM index) and in time order (for lookup).
// Nothing here builds words from characters: the kernel's Timeline does that, once.

/**
 * @typedef {Object} Word
 * @property {string} lane
 * @property {string} text
 * @property {number} start  ms on the player's timeline
 * @property {number} end
 * @property {number} index  position in arrival order
 */

/**
 * @typedef {Object} WordList
 * @property {Word[]} words  arrival order
 * @property {Word[]} order  the same words sorted by start
 * @property {number} version  bumped by every change (what a drawing of the words depends on)
 */

/** @returns {WordList} */
export function wordList() {
  return { words: [], order: [], version: 0 };
}

/**
 * Add words; return true when one landed before a word already there (the highlight must restyle).
 * @param {WordList} list
 * @param {Omit<Word, "index">[]} added
 * @returns {{words: Word[], outOfOrder: boolean}}
 */
export function addWords(list, added) {
  let outOfOrder = false;
  /** @type {Word[]} */
  const made = [];
  if (added.length) list.version++;
  for (const a of added) {
    const w = { lane: a.lane, text: a.text, start: a.start, end: a.end, index: list.words.length };
    list.words.push(w);
    made.push(w);
    const o = list.order;
    if (!o.length || o[o.length - 1].start <= w.start) o.push(w);
    else { // rare: a chunk earlier on the timeline than one already here
      o.splice(firstAfter(o, w.start), 0, w);
      outOfOrder = true;
    }
  }
  return { words: made, outOfOrder };
}

/**
 * The kernel's update of a word a later chunk continued ("spo" + "ken").
 * @param {WordList} list
 * @param {number} index
 * @param {string} text
 * @param {number} end
 * @returns {Word | null}
 */
export function growWord(list, index, text, end) {
  const w = list.words[index];
  if (!w) return null;
  list.version++;
  w.text = text;
  w.end = Math.max(w.end, end);
  return w;
}

/**
 * Position of the first word in `order` that starts after `t`.
 * @param {Word[]} order
 * @param {number} t
 */
function firstAfter(order, t) {
  let lo = 0, hi = order.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (order[mid].start <= t) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/**
 * Position in `order` of the last word that has started by `t`, or -1.
 * @param {Word[]} order
 * @param {number} t
 */
export function wordAt(order, t) {
  return firstAfter(order, t) - 1;
}

/**
 * Where the first `alignedChars` non-space characters of `text` end. `hint` is an earlier answer for a
 * prefix of this text (the text only grows): the scan goes on from there, so a token stream does not
 * rescan the whole transcript per token.
 * @param {string} text
 * @param {number} alignedChars
 * @param {{text: string, aligned: number, index: number} | null} [hint]
 * @returns {{text: string, aligned: number, index: number}}
 */
export function alignedEnd(text, alignedChars, hint) {
  let i = 0, seen = 0;
  if (hint && hint.aligned <= alignedChars && text.startsWith(hint.text)) { i = hint.index; seen = hint.aligned; }
  while (i < text.length && seen < alignedChars) { if (!/\s/.test(text[i])) seen++; i++; }
  return { text, aligned: seen, index: i };
}

/**
 * The text not yet aligned: what follows `from` (see alignedEnd) with runs of space folded, cut at `max`.
 * @param {string} text
 * @param {number} from
 * @param {number} max
 * @param {boolean} afterWords  words are shown before it (else leading space is dropped)
 */
export function pendingTail(text, from, max, afterWords) {
  // a word cut by a chunk boundary goes on without a space: "spo" + "ken, and ..."
  let tail = text.slice(from, from + 2 * max + 2).replace(/\s+/g, " ");
  if (!afterWords) tail = tail.trimStart();
  if (!tail.trim()) return "";
  return tail.length > max || from + 2 * max + 2 < text.length ? `${tail.slice(0, max)} …` : tail;
}

/** @param {string} text */
export function nonSpaceCount(text) {
  return text.replace(/\s+/g, "").length;
}

/**
 * The timeline's length while streaming: the audio so far, stretched by the share of the text aligned.
 * @param {number} bufferedEnd
 * @param {number} alignedChars
 * @param {number} textChars
 */
export function estimateTotal(bufferedEnd, alignedChars, textChars) {
  const est = alignedChars > 0 && textChars > alignedChars ? (bufferedEnd * textChars) / alignedChars : bufferedEnd;
  return Math.max(est, bufferedEnd, 1);
}
