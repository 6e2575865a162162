// @ts-check
// The browser's stages of an utterance's trace, on the wall clock the kernel and the local server use
// (performance.timeOrigin + performance.now(), in ms): only with debugging on (see debug.js). The kernel
// sends its own and the server's stages ({type: "trace"}) when the stream ends; the handle's `trace`
// and, in a debug player, a table under it show them all.

/** Wall-clock ms, at performance.now()'s resolution. */
export function wallNow() {
  return performance.timeOrigin + performance.now();
}

/**
 * Note `stage` once (its first time wins), if debugging is on.
 * @param {{on: boolean, trace: Record<string, number>}} d
 * @param {string} stage
 * @param {number} [at]
 */
export function markStage(d, stage, at) {
  if (d.on && !(stage in d.trace)) d.trace[stage] = at ?? wallNow();
}

/**
 * Stages as rows in time order, timed from the first: "stage  +ms  (step)".
 * @param {Record<string, number>} stages
 * @returns {string}
 */
export function traceTable(stages) {
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
