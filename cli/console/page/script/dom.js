// Building the page with DOM calls. Everything the server sends is put in the page as text (textContent,
// attributes), never as markup, so a stem or a message cannot inject anything.

import { when } from './format.js';

export const $ = (id) => document.getElementById(id);

/** An element with attributes (`on*` functions become listeners) and children (strings become text). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === false || value === null) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'class') el.className = value;
    // Through the CSSOM: the page's policy refuses style attributes.
    else if (name === 'style') Object.assign(el.style, value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  return fill(el, ...children);
}

/** Replaces the element's children: nested arrays are flattened, and nothing is made of null or false. */
export function fill(el, ...children) {
  el.replaceChildren(
    ...children
      .flat(Number.POSITIVE_INFINITY)
      .filter((child) => child !== undefined && child !== null && child !== false)
      .map((child) => (child instanceof Node ? child : document.createTextNode(String(child)))),
  );
  return el;
}

/** The same time, its year and seconds left out where the screen is narrow. */
export const whenShort = (iso) => {
  const full = when(iso);
  return [
    h('span', { class: 'wide' }, full.slice(0, 5)),
    full.slice(5, 16),
    h('span', { class: 'wide' }, full.slice(16)),
  ];
};

export const stateBadge = (status, words) => h('span', { class: `state ${status}` }, words ?? status);
