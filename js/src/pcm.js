// @ts-check
// PCM helpers with no DOM: int16 bytes to floats (straight into an AudioBuffer's channel) and a WAV file.

/**
 * A view of received bytes. Comm buffers arrive as DataView, maybe at an odd byte offset.
 * @param {ArrayBuffer | ArrayBufferView | null | undefined} data
 * @returns {DataView}
 */
export function asDataView(data) {
  if (!data) return new DataView(new ArrayBuffer(0));
  if (data instanceof DataView) return data;
  if (data instanceof ArrayBuffer) return new DataView(data);
  return new DataView(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Little-endian int16 samples -> floats in [-1, 1), written into `out` (e.g. an AudioBuffer's channel),
 * so a chunk costs one allocation. An even offset reads through an Int16Array view (every browser
 * platform is little-endian); an odd one through the DataView, still without copying the bytes.
 * @param {DataView} view
 * @param {Float32Array} [out]
 * @returns {Float32Array}
 */
export function int16ToFloat(view, out) {
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

/**
 * A mono 16-bit WAV file of pieces placed on one timeline (holes are silence). Floats made by
 * int16ToFloat come back as the exact int16 samples.
 * @param {{startSample: number, samples: Float32Array}[]} pieces
 * @param {number} rate
 * @returns {ArrayBuffer}
 */
export function wavFile(pieces, rate) {
  const total = pieces.reduce((n, p) => Math.max(n, p.startSample + p.samples.length), 0);
  const out = new ArrayBuffer(44 + 2 * total);
  const head = new DataView(out);
  const pcm = new Int16Array(out, 44, total);
  for (const p of pieces) {
    const s = p.samples;
    for (let i = 0; i < s.length; i++) pcm[p.startSample + i] = Math.max(-32768, Math.min(32767, Math.round(s[i] * 32768)));
  }
  /** @param {number} at @param {string} str */
  const ascii = (at, str) => { for (let i = 0; i < str.length; i++) head.setUint8(at + i, str.charCodeAt(i)); };
  ascii(0, "RIFF"); head.setUint32(4, 36 + 2 * total, true); ascii(8, "WAVE");
  ascii(12, "fmt "); head.setUint32(16, 16, true); head.setUint16(20, 1, true); head.setUint16(22, 1, true);
  head.setUint32(24, rate, true); head.setUint32(28, rate * 2, true); head.setUint16(32, 2, true);
  head.setUint16(34, 16, true); ascii(36, "data"); head.setUint32(40, 2 * total, true);
  return out;
}
