import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * docs/testing.md maps each scenario to the test that checks it. This keeps the map true: every test file it names
 * exists, every title it quotes is a string in that file, and every test file of the four levels is on the map.
 */

const ROOT = resolve(import.meta.dirname, '..', '..');
const MAP = 'docs/testing.md';
const LEVELS = ['unit', 'infra', 'integration', 'e2e'] as const;
const TEST_FILE = /^test\/(unit|infra|integration|e2e)\/[\w.-]+\.test\.ts$/;
/** Between the describe blocks, the test and a row of a table-driven test of one quoted path. */
const SEPARATOR = ' › ';

interface Row {
  line: number;
  file: string;
  titles: string[];
}

/** Cells of a Markdown table row; `\|` stays inside its cell. */
function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\||\|$/g, '')
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim().replaceAll('\\|', '|'));
}

/** The code spans of a cell, `` `...` `` or ``` `` ... `` ``` (for text holding a backtick). */
function codeSpans(cell: string): string[] {
  const spans: string[] = [];
  for (const match of cell.matchAll(/(`+)(.+?)\1(?!`)/g)) {
    const text = match[2] ?? '';
    spans.push(match[1] === '`' ? text : text.trim());
  }
  return spans;
}

/** The rows of the map's tables that name a test file, with the titles quoted in their last cell. */
function rowsOf(markdown: string): Row[] {
  const rows: Row[] = [];
  markdown.split('\n').forEach((text, index) => {
    if (!text.startsWith('|') || /^\|[\s|:-]+\|$/.test(text.trim())) return;
    const all = cells(text);
    const files = all
      .slice(0, -1)
      .flatMap(codeSpans)
      .filter((span) => TEST_FILE.test(span));
    if (files.length === 0) return;
    if (files.length > 1) throw new Error(`${MAP}:${index + 1} names more than one test file in a row`);
    rows.push({ line: index + 1, file: files[0] ?? '', titles: codeSpans(all.at(-1) ?? '') });
  });
  return rows;
}

/** Whether `text` is a whole string literal of `source`, in any of the three quotes (escaped as written). */
function isLiteralOf(source: string, text: string): boolean {
  return ["'", '"', '`'].some((quote) => {
    const escaped = text.replaceAll('\\', '\\\\').replaceAll(quote, `\\${quote}`);
    return source.includes(`${quote}${escaped}${quote}`) || source.includes(`${quote}${text}${quote}`);
  });
}

function testFiles(): string[] {
  return LEVELS.flatMap((level) =>
    readdirSync(join(ROOT, 'test', level))
      .filter((name) => name.endsWith('.test.ts'))
      .map((name) => `test/${level}/${name}`),
  );
}

describe(`the test map (${MAP})`, () => {
  const markdown = readFileSync(join(ROOT, MAP), 'utf8');
  const rows = rowsOf(markdown);

  it('quotes at least one test in every row that names a test file', () => {
    expect(rows.length).toBeGreaterThan(100);
    for (const row of rows) expect(row.titles, `${MAP}:${row.line}`).not.toEqual([]);
  });

  it('names only test files that exist', () => {
    const missing = [...new Set(rows.map((row) => row.file))].filter((file) => !existsSync(join(ROOT, file)));
    expect(missing).toEqual([]);
  });

  it('quotes every describe block, test title and table row exactly as its file spells it', () => {
    const sources = new Map<string, string>();
    const wrong: string[] = [];
    for (const row of rows) {
      if (!existsSync(join(ROOT, row.file))) continue;
      const source = sources.get(row.file) ?? readFileSync(join(ROOT, row.file), 'utf8');
      sources.set(row.file, source);
      for (const title of row.titles)
        for (const part of title.split(SEPARATOR))
          if (!isLiteralOf(source, part)) wrong.push(`${MAP}:${row.line}: "${part}" is not in ${row.file}`);
    }
    expect(wrong).toEqual([]);
  });

  it('names every unit, infra, integration and e2e test file at least once', () => {
    const named = new Set(rows.map((row) => row.file));
    expect(testFiles().filter((file) => !named.has(file))).toEqual([]);
  });

  it('finds a title that is not in its file (the check is not vacuous)', () => {
    const source = "describe('a block', () => { it('does one thing', () => {}); });";
    expect(isLiteralOf(source, 'does one thing')).toBe(true);
    expect(isLiteralOf(source, 'does one')).toBe(false);
    expect(isLiteralOf("it('keeps Anna\\'s files')", "keeps Anna's files")).toBe(true);
    const [row] = rowsOf('| a scenario | unit | `test/unit/x.test.ts` | `a block › does one thing` |\n');
    expect(row?.titles).toEqual(['a block › does one thing']);
    const [ticked] = rowsOf('| x | unit | `test/unit/x.test.ts` | `` lists `problems` ``, `b` |\n');
    expect(ticked?.titles).toEqual(['lists `problems`', 'b']);
  });
});
