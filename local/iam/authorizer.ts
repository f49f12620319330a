import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../template.js';
import type { IamModel } from './model.js';
import { evaluate, type Principal, type Request, refusalMessage, type SourcedStatement } from './policy.js';

/**
 * Judges every call a local caller makes, as AWS would before serving it, and keeps the record: refusals go to
 * `logs/iam.log` (one JSON line each), and every allowed call counts for the statements that allowed it (the
 * least-privilege report). `warn` logs refusals but lets the call through; `off` judges nothing.
 */

export type IamMode = 'enforce' | 'warn' | 'off';
export const IAM_MODES: readonly IamMode[] = ['enforce', 'warn', 'off'];

export interface IamCall {
  principal: Principal;
  action: string;
  resource: string;
  /** Condition keys beyond the ones every request has. */
  context?: Request['context'];
  resourcePolicy?: readonly SourcedStatement[];
  /** S3 quotes the resource in its message. */
  quoteResource?: boolean;
}

export type IamVerdict = { allowed: true } | { allowed: false; message: string };

/** A caller local mode cannot name (an unsigned request, an unknown key): AWS's anonymous principal. */
const ANONYMOUS: Principal = { arn: 'anonymous', kind: 'AWS', names: ['*'], identity: [] };

/** Where the usage of each stack is written when `AVATAR_IAM_USAGE_DIR` is set (the e2e suite's report). */
export const IAM_USAGE_DIR_VARIABLE = 'AVATAR_IAM_USAGE_DIR';

export class LocalIam {
  /** Allowed calls per statement id. */
  readonly usage = new Map<string, number>();
  /** Set by a test that cuts a permission on purpose: its refusals are expected (see the usage report). */
  deliberate = false;
  /** Refused calls (also in warn mode, where they went through). */
  readonly refusals: { principal: string; action: string; resource: string; message: string }[] = [];

  constructor(
    private current: IamModel,
    readonly options: { mode: IamMode; logFile?: string },
  ) {
    if (options.logFile) mkdirSync(dirname(options.logFile), { recursive: true });
  }

  get model(): IamModel {
    return this.current;
  }

  /** Judges with other policies from now on (tests cut a statement from the template and reload it). */
  replaceModel(model: IamModel): void {
    this.current = model;
  }

  /** The principal of an access key id; an unknown or missing key is anonymous (and allowed nothing). */
  principalOf(accessKeyId: string | undefined): Principal {
    return (accessKeyId && this.current.byAccessKey.get(accessKeyId)) || ANONYMOUS;
  }

  check(call: IamCall): IamVerdict {
    if (this.options.mode === 'off') return { allowed: true };
    const request: Request = {
      action: call.action,
      resource: call.resource,
      context: {
        // Local endpoints are plain HTTP on loopback; on AWS the SDKs always use TLS, so the request is judged
        // as the deployed one would be (docs/local-mode.md, "What local mode enforces").
        'aws:SecureTransport': 'true',
        'aws:PrincipalArn': call.principal.names[0],
        'aws:PrincipalAccount': call.principal.kind === 'AWS' ? LOCAL_ACCOUNT : undefined,
        'aws:RequestedRegion': LOCAL_REGION,
        'aws:CurrentTime': new Date().toISOString(),
        ...call.context,
      },
    };
    const decision = evaluate(call.principal, request, call.resourcePolicy);
    if (decision.allowed) {
      for (const id of decision.by) this.usage.set(id, (this.usage.get(id) ?? 0) + 1);
      return { allowed: true };
    }
    const message = refusalMessage(call.principal, request, decision.reason, {
      quoteResource: call.quoteResource ?? false,
    });
    this.refusals.push({
      principal: call.principal.arn,
      action: call.action,
      resource: call.resource,
      message,
    });
    if (this.options.logFile)
      appendFileSync(
        this.options.logFile,
        `${JSON.stringify({
          time: new Date().toISOString(),
          mode: this.options.mode,
          principal: call.principal.arn,
          action: call.action,
          resource: call.resource,
          reason: decision.reason,
          ...(decision.by ? { statement: decision.by } : {}),
        })}\n`,
      );
    return this.options.mode === 'warn' ? { allowed: true } : { allowed: false, message };
  }

  /** Writes the usage counts and the statements they refer to, for `npm run iam:report`. */
  writeUsage(directory: string): void {
    mkdirSync(directory, { recursive: true });
    const file = join(directory, `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        usage: Object.fromEntries(this.usage),
        catalog: this.current.catalog,
        refusals: this.refusals,
        deliberate: this.deliberate,
      }),
    );
  }
}

/** The access key id a SigV4-signed request names, in its Authorization header or its presigned query. */
export function accessKeyOf(
  headers: Record<string, string | string[] | undefined>,
  url?: URL,
): string | undefined {
  const auth = headers.authorization;
  const header = Array.isArray(auth) ? auth[0] : auth;
  const fromHeader = header?.match(/Credential=([^/,\s]+)\//)?.[1];
  if (fromHeader) return fromHeader;
  return url?.searchParams.get('X-Amz-Credential')?.split('/')[0] ?? undefined;
}
