/** Runware's `{data}` / `{errors}` envelopes: the error bodies the simulator answers with, and JSON over HTTP. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimulatedTask, SimulatorErrorItem } from './types.js';

/** What a `POST /v1` request is answered with. */
export interface Reply {
  status: number;
  body: { data?: unknown[]; errors?: SimulatorErrorItem[] };
  /** Destroy the connection instead of answering (a `submitDrop` fault). */
  drop?: boolean;
  /** Tasks this request created: they start processing when the answer is written (or withheld). */
  accepted?: SimulatedTask[];
}

/** What one task of a request contributes to the answer. */
export interface Dispatched {
  data: unknown[];
  errors: SimulatorErrorItem[];
  /**
   * The errors report how a task ended (getResponse of a failed task), not a refused request: answered 200 with
   * `{"data":[], "errors":[...]}`, as in the official TS SDK's test "throws when getResponse returns an errors
   * array" (docs/runware-api.md section 1).
   */
  reported?: boolean;
  accepted?: SimulatedTask;
}

/** The taskType and taskUUID an error is scoped to. */
export interface ErrorScope {
  taskType?: string | undefined;
  taskUUID?: string | undefined;
}

const INVALID_API_KEY = {
  code: 'invalidApiKey',
  message: 'Invalid API key. Get one at https://my.runware.ai/signup',
  parameter: 'apiKey',
} as const;

/**
 * Error bodies per HTTP status. The `{errors:[{code, message, parameter, taskType, taskUUID}]}` shape and the
 * statuses are DOCUMENTED (D-errors, D-rate; docs/runware-api.md section 2); the messages of 400-404, 429, 503
 * and 504 paraphrase those pages. Which code comes with which status is NOT documented: `invalidApiKey` and
 * `insufficientCredits` are names the official TS SDK's classifier knows; every other code here is INVENTED in
 * Runware's naming style, so the pipeline must never depend on a code, only on the status.
 */
const ERROR_OF_STATUS: Readonly<Record<number, { code: string; message: string; parameter?: string }>> = {
  400: { code: 'invalidRequest', message: 'The request was unacceptable to the provider.' },
  401: INVALID_API_KEY,
  402: {
    code: 'insufficientCredits',
    message:
      'Insufficient credits to run this task. Add funds at https://my.runware.ai/wallet and try again.',
  },
  403: { code: 'accessDenied', message: 'This API key is not allowed to run this model.' },
  404: { code: 'modelNotFound', message: 'The requested model was not found.', parameter: 'model' },
  429: {
    code: 'queueCapacityExceeded',
    message: 'Queue capacity exceeded for this model. Retry with exponential backoff.',
  },
  500: { code: 'internalServerError', message: 'An unexpected error occurred. Retry the request.' },
  502: { code: 'badGateway', message: 'Bad gateway. Retry the request.' },
  503: { code: 'serviceUnavailable', message: 'Temporary capacity constraint. Retry the request shortly.' },
  504: { code: 'timeoutQueue', message: 'The request exceeded the maximum queue wait time.' },
};

/** Runware's error for a fault status, scoped to the request's task (a 401 to authentication). */
export function statusError(status: number, scope: ErrorScope): SimulatorErrorItem {
  const scoped = {
    ...(scope.taskType === undefined ? {} : { taskType: scope.taskType }),
    ...(scope.taskUUID === undefined ? {} : { taskUUID: scope.taskUUID }),
  };
  // Any other status (408 for one, which both SDKs retry): INVENTED code and message, marked as such.
  const known = ERROR_OF_STATUS[status] ?? {
    code: `simulatedHttp${status}`,
    message: `Simulated HTTP ${status} (no documented body).`,
  };
  return { ...known, ...(status === 401 ? { taskType: 'authentication' } : scoped) };
}

/** The answer to a request refused as a whole. */
export function failure(status: number, error: SimulatorErrorItem): Reply {
  return { status, body: { errors: [error] } };
}

/** The answer to a request without the right API key. */
export function unauthorized(): Reply {
  return failure(401, { ...INVALID_API_KEY, taskType: 'authentication' });
}

/** One task's refusal, to ride along in the request's answer. */
export function refused(error: SimulatorErrorItem): Dispatched {
  return { data: [], errors: [error] };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** An `{errors}` answer with one error, for requests that never reach the API (wrong route or method). */
export function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { errors: [{ code, message }] });
}

export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
