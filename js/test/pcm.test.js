import assert from "node:assert/strict";
import { test } from "node:test";
import { asDataView, int16ToFloat, wavFile } from "../src/pcm.js";

const samples = Int16Array.from([0, 1, -1, 32767, -32768, 1234, -4321]);

test("int16 bytes at an even or an odd offset become the same floats", () => {
  const even = int16ToFloat(asDataView(new Uint8Array(samples.buffer)));
  const backing = new Uint8Array(samples.byteLength + 3);
  backing.set(new Uint8Array(samples.buffer), 1);
  const odd = int16ToFloat(new DataView(backing.buffer, 1, samples.byteLength));
  assert.deepEqual([...odd], [...even]);
  assert.deepEqual([...even].slice(3, 5), [32767 / 32768, -1]);
  const into = new Float32Array(samples.length);
  assert.equal(int16ToFloat(asDataView(samples), into), into); // written in place: no other allocation
});

test("a WAV of placed pieces gives back the exact samples, holes silent", () => {
  const floats = int16ToFloat(asDataView(samples));
  const wav = new DataView(wavFile([{ startSample: 0, samples: floats }, { startSample: 10, samples: floats }], 16000));
  const ascii = (at, n) => String.fromCharCode(...new Uint8Array(wav.buffer, at, n));
  assert.equal(ascii(0, 4) + ascii(8, 8) + ascii(36, 4), "RIFFWAVEfmt data");
  assert.deepEqual([wav.getUint32(24, true), wav.getUint16(22, true), wav.getUint16(34, true)], [16000, 1, 16]);
  const pcm = new Int16Array(wav.buffer, 44, wav.getUint32(40, true) / 2);
  assert.equal(pcm.length, 17);
  assert.deepEqual([...pcm.slice(0, 7)], [...samples]);
  assert.deepEqual([...pcm.slice(7, 10)], [0, 0, 0]);
  assert.deepEqual([...pcm.slice(10)], [...samples]);
  assert.equal(wav.getUint32(4, true), wav.byteLength - 8);
});
