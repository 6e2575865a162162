// @ts-check
// The timeline's word blocks as few rectangles as draw the same picture. A 20-minute text is ~3,000 words
// on a canvas a few hundred pixels wide: drawn one rectangle per word, every redraw while a long cell
// streamed cost ~20 ms of fillRect and style changes. Words whose blocks touch (a gap under one pixel) and
// look the same (lane, spoken or not) become one run; the current word stays its own, for its underline.

/** @typedef {import("./words.js").Word} Word */

/**
 * @typedef {Object} Run
 * @property {number} row  the lane's row
 * @property {number} color  the lane's colour index
 * @property {boolean} solid  spoken (or current): drawn solid, else faint
 * @property {number} x  CSS px
 * @property {number} w  CSS px, at least 1
 * @property {boolean} current  the word being spoken (underlined)
 */

/**
 * @param {Word[]} order  the words sorted by start
 * @param {number} current  index in `order` of the word being spoken, or -1
 * @param {number} scale  CSS px per second of audio
 * @param {(lane: string) => {row: number, color: number}} laneOf
 * @returns {Run[]}
 */
export function wordRuns(order, current, scale, laneOf) {
  /** @type {Run[]} */
  const runs = [];
  /** @type {Map<number, Run>} */
  const open = new Map(); // row -> its last run, which the next word of that row may extend
  for (let p = 0; p < order.length; p++) {
    const word = order[p];
    const { row, color } = laneOf(word.lane);
    const solid = p <= current;
    const isCurrent = p === current;
    const x = word.start * scale;
    const w = Math.max(1, (word.end - word.start) * scale - 1); // a 1 px gap between words that have room
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
