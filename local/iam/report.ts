import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CatalogEntry } from './model.js';
import type { PolicyValue, Statement } from './policy.js';

/**
 * The least-privilege report: for each role (and resource policy) of the template, each statement and how many
 * calls of the test suite's local stacks it allowed. A statement that allowed nothing is either listed below
 * with the reason local mode cannot exercise it, or is a grant the code does not need.
 */

/** Statements local mode cannot exercise, each with why: what calls them on AWS is not our code. */
export const NOT_EXERCISED: { why: string; applies: (entry: CatalogEntry) => boolean }[] = [
  {
    why: 'The Lambda runtime writes the function logs to CloudWatch Logs (local mode writes them to logs/<function>.log).',
    applies: (e) => actionsOf(e.statement).every((a) => /^logs:(CreateLogStream|PutLogEvents)$/.test(a)),
  },
  {
    why: 'X-Ray tracing is sent by the Lambda and Step Functions services, not by the functions (no X-Ray in local mode).',
    applies: (e) => actionsOf(e.statement).every((a) => a.startsWith('xray:')),
  },
  {
    why: "Lambda's asynchronous-invocation failure destination (the dead-letter queue) is written by the Lambda service; local mode records dead letters in memory.",
    applies: (e) => actionsOf(e.statement).every((a) => a.startsWith('sqs:')),
  },
  {
    why: 'Step Functions configures its execution log delivery and traces itself when the state machine is created or run.',
    applies: (e) => actionsOf(e.statement).some((a) => a.startsWith('logs:CreateLogDelivery')),
  },
  {
    why: 'S3 server access logging (logging.s3.amazonaws.com) writes the access-log bucket; local mode has no access logs.',
    applies: (e) => JSON.stringify(e.statement.Principal ?? '').includes('logging.s3.amazonaws.com'),
  },
  {
    why: 'Lets S3 answer 404 NoSuchKey instead of 403 when a key the pairing named is gone by the time it is read (deleted in between); local mode answers 403 without it, as S3 does. The suite has no such race.',
    applies: (e) => actionsOf(e.statement).join() === 's3:ListBucket',
  },
  {
    why: "The sweep's reaper wakes a waiting job only when a slot leaked (neither record nor fail ran for an attempt); the suite leaks none (the reaper is unit-tested in test/unit/reclaim.test.ts).",
    applies: (e) =>
      e.owner.includes('SweepFunction') && actionsOf(e.statement).join() === 'states:SendTaskSuccess',
  },
  {
    why: 'A Deny statement never allows: it is a guard (the TLS-only bucket policies), counted as refusals.',
    applies: (e) => e.statement.Effect === 'Deny',
  },
];

export function actionsOf(statement: Statement): string[] {
  const value: PolicyValue = statement.Action ?? statement.NotAction ?? [];
  return Array.isArray(value) ? value : [value];
}

function resourcesOf(statement: Statement): string[] {
  const value: PolicyValue = statement.Resource ?? statement.NotResource ?? [];
  return Array.isArray(value) ? value : [value];
}

export interface UsageFile {
  usage: Record<string, number>;
  catalog: CatalogEntry[];
  refusals: { principal: string; action: string; resource: string; message: string }[];
  /** Set by tests that cut a permission on purpose: their refusals are expected. */
  deliberate?: boolean;
}

export interface ReportRow {
  owner: string;
  id: string;
  actions: string[];
  resources: string[];
  calls: number;
  /** Why it allowed nothing, when that is expected. */
  notExercised?: string;
}

export interface Report {
  stacks: number;
  rows: ReportRow[];
  /** Refusals in stacks that did not cut a permission on purpose. */
  unexpectedRefusals: UsageFile['refusals'];
}

export function readUsage(directory: string): UsageFile[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(directory, f), 'utf8')) as UsageFile);
}

export function buildReport(files: readonly UsageFile[]): Report {
  const calls = new Map<string, number>();
  const catalog = new Map<string, CatalogEntry>();
  for (const file of files) {
    for (const [id, n] of Object.entries(file.usage)) calls.set(id, (calls.get(id) ?? 0) + n);
  }
  // Statement ids are stable across stacks; a stack that cut a permission on purpose may list a statement cut
  // down, so the catalogues of the others come first.
  for (const file of [...files].sort((a, b) => Number(a.deliberate ?? false) - Number(b.deliberate ?? false)))
    for (const entry of file.catalog) if (!catalog.has(entry.id)) catalog.set(entry.id, entry);
  const rows = [...catalog.values()].map((entry) => {
    const n = calls.get(entry.id) ?? 0;
    const why = n === 0 ? NOT_EXERCISED.find((x) => x.applies(entry))?.why : undefined;
    return {
      owner: entry.owner,
      id: entry.id,
      actions: actionsOf(entry.statement),
      resources: resourcesOf(entry.statement),
      calls: n,
      ...(why ? { notExercised: why } : {}),
    };
  });
  rows.sort((a, b) => a.owner.localeCompare(b.owner) || a.id.localeCompare(b.id));
  return {
    stacks: files.length,
    rows,
    unexpectedRefusals: files.filter((f) => !f.deliberate).flatMap((f) => f.refusals),
  };
}

/** Statements that allowed nothing and are not listed as out of local mode's reach. */
export function unusedGrants(report: Report): ReportRow[] {
  return report.rows.filter((r) => r.calls === 0 && !r.notExercised);
}

const shortArn = (arn: string) =>
  arn
    .replace(/^arn:aws:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:?/, '')
    .replace(/AvatarPipeline-/g, '')
    .replace(/avatar-pipeline-/g, '');

export function renderReport(report: Report): string {
  const lines = [
    `Least privilege: each statement of the template and the calls it allowed, over ${report.stacks} local stack(s).`,
    '',
    '| Role or resource | Statement | Actions | Resources | Calls allowed |',
    '| --- | --- | --- | --- | ---: |',
  ];
  for (const row of report.rows) {
    const calls =
      row.calls > 0 ? String(row.calls) : row.notExercised ? `0 (${row.notExercised})` : '**0: unused**';
    lines.push(
      `| ${shortArn(row.owner)} | ${row.id.replace(/[0-9A-F]{8}(?=[.#])/, '')} | ${row.actions.join(', ')} | ${row.resources.map(shortArn).join(', ')} | ${calls} |`,
    );
  }
  return lines.join('\n');
}
