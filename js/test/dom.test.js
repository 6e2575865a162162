import assert from "node:assert/strict";
import { test } from "node:test";
import { setAttr, setData, setProp, setText } from "../src/dom.js";

/** An element stand-in that counts writes. */
function fake() {
  const writes = [];
  const attrs = new Map();
  let text = "";
  const el = {
    writes,
    dataset: new Proxy({}, { set(t, k, v) { writes.push(`data-${String(k)}`); t[k] = v; return true; } }),
    get textContent() { return text; },
    set textContent(v) { writes.push("text"); text = v; },
    getAttribute: (n) => (attrs.has(n) ? attrs.get(n) : null),
    setAttribute: (n, v) => { writes.push(n); attrs.set(n, v); },
    _title: "",
    get title() { return this._title; },
    set title(v) { writes.push("title"); this._title = v; },
  };
  return el;
}

test("the DOM helpers write only what changed", () => {
  const el = fake();
  setText(el, "a"); setText(el, "a");
  setData(el, "status", "playing"); setData(el, "status", "playing");
  setAttr(el, "aria-label", "Play"); setAttr(el, "aria-label", "Play");
  setProp(el, "title", "t"); setProp(el, "title", "t");
  assert.deepEqual(el.writes, ["text", "data-status", "aria-label", "title"]);
  setText(el, "b"); setData(el, "status", "done");
  assert.equal(el.textContent, "b");
  assert.equal(el.dataset.status, "done");
});
