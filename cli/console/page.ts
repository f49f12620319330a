import { readFileSync } from 'node:fs';

/**
 * The console's one page: its HTML with the style sheets and the script inlined, so that one request (the one whose
 * address carries the token) brings everything, and the page's policy runs only what carries this answer's nonce.
 *
 * The script is written as ES modules in page/script/, each importing what it uses from the others by a relative
 * name (`import { h } from './dom.js';`). They are put in the page as one module script, in the order below: each
 * after the modules it imports, its imports of them dropped and its `export`s made plain declarations (one scope,
 * so no two modules may declare the same top-level name; the unit test parses the result). Nothing else is read:
 * the server serves no file by its path.
 */

/** The script's modules, each after those it imports; the last is the entry. */
export const SCRIPT_MODULES = [
  'format.js',
  'dom.js',
  'api.js',
  'state.js',
  'list.js',
  'actions.js',
  'detail.js',
  'media.js',
  'estimate.js',
  'console.js',
] as const;

/** The style sheets, in cascade order. */
export const STYLE_SHEETS = ['base.css', 'controls.css', 'list.css', 'detail.css'] as const;

const read = (name: string) => readFileSync(new URL(`./page/${name}`, import.meta.url), 'utf8');

/** `import { a, b } from './x.js';` (one line or several): the only imports a page module may have. */
const LOCAL_IMPORT = /^import \{[^}]*\} from '\.\/([a-z-]+\.js)';\n/gm;

/** The modules as one script: throws at load when a module imports what comes after it, or anything else. */
export function joinModules(modules: readonly string[], source: (name: string) => string): string {
  return modules
    .map((name, index) => {
      const text = source(name).replace(LOCAL_IMPORT, (_whole, imported: string) => {
        if (!modules.slice(0, index).includes(imported))
          throw new Error(`page/script/${name} imports ${imported}, which is not a module before it.`);
        return '';
      });
      const plain = text.replace(/^export (?=(async function|function|const|let|class) )/gm, '');
      const left = /^(import|export)\b.*/m.exec(plain);
      if (left) throw new Error(`page/script/${name}: cannot inline "${left[0]}".`);
      return `// ---- ${name}\n${plain}`;
    })
    .join('\n');
}

const TEMPLATE = read('index.html');
const CSS = STYLE_SHEETS.map((name) => read(`style/${name}`)).join('\n');
const JS = joinModules(SCRIPT_MODULES, (name) => read(`script/${name}`));

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
