import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const IMPORT = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Every module a file reaches through relative imports (type-only ones included), as paths from the root. */
function reachable(start: string): Map<string, string[]> {
  const chains = new Map<string, string[]>([[start, [start]]]);
  const queue = [start];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    const source = readFileSync(join(ROOT, file), 'utf8');
    for (const match of source.matchAll(IMPORT)) {
      const spec = match[1] ?? match[2] ?? '';
      if (!spec.startsWith('.')) continue;
      const base = join(dirname(file), spec).replace(/\.js$/, '');
      const target = [`${base}.ts`, `${base}.mts`, join(base, 'index.ts')].find((p) =>
        existsSync(join(ROOT, p)),
      );
      if (target === undefined || chains.has(target)) continue;
      chains.set(target, [...(chains.get(file) ?? []), target]);
      queue.push(target);
    }
  }
  return chains;
}

describe('the Runware simulator is written apart from the client', () => {
  it('imports nothing from lambdas/, directly or through other local/ modules', () => {
    const starts = [
      'local/runware-simulator.ts',
      ...readdirSync(join(ROOT, 'local/runware'))
        .filter((name) => name.endsWith('.ts'))
        .map((name) => relative(ROOT, join(ROOT, 'local/runware', name))),
    ];
    const offending = starts.flatMap((start) =>
      [...reachable(start).entries()]
        .filter(([file]) => file.startsWith('lambdas/'))
        .map(([, chain]) => chain.join(' -> ')),
    );
    expect(offending).toEqual([]);
  });
});
