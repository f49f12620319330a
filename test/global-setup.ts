import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { IAM_USAGE_DIR_VARIABLE } from '../local/iam/authorizer.js';

/**
 * Every local stack of the run writes which IAM statements allowed its calls (and any refusals) here when it
 * stops; `npm run iam:report` reads them after the suite (docs/local-mode.md, "The least-privilege report").
 */
export const IAM_USAGE_DIR = resolve(import.meta.dirname, '..', '.vitest', 'iam-usage');

export default function setup(): void {
  rmSync(IAM_USAGE_DIR, { recursive: true, force: true });
  process.env[IAM_USAGE_DIR_VARIABLE] = IAM_USAGE_DIR;
}
