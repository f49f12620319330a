import { readFileSync } from 'node:fs';

/**
 * The console's one page: its HTML with the style sheets and the script inlined, so that one request (the one whose
 * address carries the token) brings everything, and the page's policy runs only what carries this answer's nonce.
 */

/** The style sheets, in cascade order. */
export const STYLE_SHEETS = ['base.css', 'controls.css', 'list.css', 'detail.css'] as const;

const read = (name: string) => readFileSync(new URL(`./page/${name}`, import.meta.url), 'utf8');
const TEMPLATE = read('index.html');
const CSS = STYLE_SHEETS.map((name) => read(`style/${name}`)).join('\n');
const JS = read('console.js');

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function renderPage(options: { nonce: string; readOnly: boolean; target: string }): string {
  const values: Record<string, string> = {
    NONCE: options.nonce,
    READ_ONLY: String(options.readOnly),
    READ_ONLY_BADGE: options.readOnly ? ' <span class="badge-ro">read-only</span>' : '',
    TARGET: escapeHtml(options.target),
  };
  // One pass, so that nothing substituted (a target's name) is read as a placeholder again; the style sheet and
  // the script go in last, into markers that are comments in their own languages (the template stays valid).
  return TEMPLATE.replace(/\{\{([A-Z_]+)\}\}/g, (whole, name: string) => values[name] ?? whole)
    .replace('/*CSS*/', () => CSS)
    .replace('/*JS*/', () => JS);
}
