// @ts-check
// Small DOM helpers.

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [cls]
 * @param {string} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, cls, text) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text !== undefined) el.textContent = text;
  return el;
}

/** @param {string} cls @param {string} text @param {string} label */
export function button(cls, text, label) {
  const b = h("button", `enb-btn ${cls}`, text);
  b.type = "button";
  b.title = label;
  b.setAttribute("aria-label", label);
  return b;
}

// Write only what changed: a DOM write invalidates style or layout (work for the next frame, which the
// kernel's next message then waits behind) even when it writes the value already there.

/** @param {{textContent: string | null}} el @param {string} text */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** @param {{dataset: DOMStringMap}} el @param {string} key @param {string} value */
export function setData(el, key, value) {
  if (el.dataset[key] !== value) el.dataset[key] = value;
}

/** @param {{getAttribute(name: string): string | null, setAttribute(name: string, value: string): void}} el
 *  @param {string} name @param {string} value */
export function setAttr(el, name, value) {
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

/**
 * A reflected property (title, disabled, hidden), written only when it differs.
 * @template {object} E @template {keyof E} K
 * @param {E} el @param {K} name @param {E[K]} value
 */
export function setProp(el, name, value) {
  if (el[name] !== value) el[name] = value;
}
