// @ts-check
// ⤓ WAV (the audio received, placed on its timeline) and ⤓ VTT (the captions the kernel computed).
import { wavFile } from "./pcm.js";

/** @typedef {import("./state.js").Player} Player */

/** @param {Player} s */
export function wavBlob(s) {
  const rate = s.chunks[0]?.rate || s.model.get("sample_rate") || 22050; // one rate per player (the kernel's promise)
  const pieces = s.chunks.map((c) => ({ startSample: Math.round((c.at * rate) / 1000), samples: c.samples }));
  return new Blob([wavFile(pieces, rate)], { type: "audio/wav" });
}

/** @param {Player} s */
export function captions(s) {
  return String(s.model.get("captions") || "");
}

/** @param {Blob} blob @param {string} name */
export function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.style.display = "none";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}
