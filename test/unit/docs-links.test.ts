import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The README and the pages under docs/ link to each other and to the code. A moved file or a renamed heading
 * breaks a link silently on GitHub; this test finds it at once.
 */
const ROOT = resolve(import.meta.dirname, '..', '..');
const README_MAX_LINES = 300;

const pages = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** The text outside fenced code blocks, line by line (links and headings in code are not links or headings). */
function proseLines(markdown: string): string[] {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker !== undefined) {
      if (fence === undefined) fence = marker;
      else if (marker.startsWith(fence)) fence = undefined;
      lines.push('');
      continue;
    }
    lines.push(fence === undefined ? line : '');
  }
  return lines;
}

/** GitHub's heading anchor: the rendered text, lowercased, punctuation dropped, each space a hyphen. */
function githubSlug(heading: string): string {
  const text = heading
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/[`*]/g, '');
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a page offers: its headings' slugs (repeats get -1, -2, ... as on GitHub) and explicit ids. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading !== undefined) {
      const slug = githubSlug(heading);
      const count = seen.get(slug) ?? 0;
      seen.set(slug, count + 1);
      anchors.add(count === 0 ? slug : `${slug}-${count}`);
    }
    for (const id of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) if (id[1]) anchors.add(id[1]);
  }
  return anchors;
}

interface Link {
  page: string;
  line: number;
  target: string;
}

/** The relative links and images of a page (inline code spans and fenced blocks left out). */
function relativeLinks(page: string): Link[] {
  const links: Link[] = [];
  proseLines(readFileSync(join(ROOT, page), 'utf8')).forEach((line, index) => {
    const prose = line.replace(/(`+)[\s\S]*?\1/g, '');
    for (const match of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = match[1] ?? '';
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: ...
      links.push({ page, line: index + 1, target });
    }
  });
  return links;
}

/** Why a link does not resolve, or undefined when it does. */
function problemWith(link: Link): string | undefined {
  const [pathPart = '', anchor] = link.target.split('#', 2);
  const file =
    pathPart === '' ? join(ROOT, link.page) : resolve(ROOT, dirname(link.page), decodeURI(pathPart));
  const fromRoot = relative(ROOT, file);
  if (!existsSync(file)) {
    return `${fromRoot} does not exist`;
  }
  if (anchor === undefined || anchor === '') return undefined;
  if (!file.endsWith('.md') || statSync(file).isDirectory()) return `#${anchor} points into ${fromRoot}`;
  const anchors = anchorsOf(readFileSync(file, 'utf8'));
  return anchors.has(anchor) ? undefined : `${fromRoot} has no heading #${anchor}`;
}

describe('README and docs/ links', () => {
  it('slug headings as GitHub does', () => {
    expect(githubSlug('The `avatar-pipeline` CLI')).toBe('the-avatar-pipeline-cli');
    expect(githubSlug('Settings (CDK context: `cdk.json` or `-c name=value`)')).toBe(
      'settings-cdk-context-cdkjson-or--c-namevalue',
    );
    expect(githubSlug('5. Inputs: when Runware fetches them, Runware’s own upload')).toBe(
      '5-inputs-when-runware-fetches-them-runwares-own-upload',
    );
    expect(githubSlug('`seed`, dry run')).toBe('seed-dry-run');
    expect([...anchorsOf('# A\n## Events\n```\n# not a heading\n```\n### Events\n')]).toEqual([
      'a',
      'events',
      'events-1',
    ]);
  });

  it('find links in prose only, not in code', () => {
    expect(pages).toContain('docs/local-mode.md');
    const all = pages.flatMap(relativeLinks);
    expect(all.length).toBeGreaterThan(20);
    expect(all.some((link) => link.target.includes('<'))).toBe(false);
  });

  it.each(pages)('resolves every relative link and anchor of %s', (page) => {
    const broken = relativeLinks(page).flatMap((link) => {
      const problem = problemWith(link);
      return problem === undefined ? [] : [`${link.page}:${link.line} (${link.target}): ${problem}`];
    });
    expect(broken).toEqual([]);
  });

  it(`keeps the README to at most ${README_MAX_LINES} lines`, () => {
    const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').replace(/\n$/, '').split('\n').length;
    expect(lines).toBeLessThanOrEqual(README_MAX_LINES);
  });
});
