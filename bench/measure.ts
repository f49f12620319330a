/**
 * What the bench measures around the local stack without being part of it: the pipeline's requests to its servers
 * (for figure 5's AWS cost, at the public prices below), the Lambda run times, and the Runware simulator's capacity
 * and tasks in flight (figure 2).
 */
import { type IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LocalStack } from '../local/stack.js';
import type { FunctionName } from '../local/template.js';

// -------------------------------------------------------------------------------------------- prices
/**
 * Public us-east-1 prices, USD. Values as published on these pages (2024-11 price list, the latest known
 * when this was written; the bench machine has no internet access to re-check them).
 */
export const PRICES = {
  /** https://aws.amazon.com/step-functions/pricing/ : Standard workflows, $0.025 per 1,000 state transitions. */
  stateTransition: 0.025 / 1000,
  /** https://aws.amazon.com/lambda/pricing/ : arm64, $0.0000133334 per GB-second. */
  lambdaGbSecond: 0.0000133334,
  /** https://aws.amazon.com/lambda/pricing/ : $0.20 per 1M requests. */
  lambdaRequest: 0.2 / 1e6,
  /** https://aws.amazon.com/dynamodb/pricing/on-demand/ : $0.625 per million write request units. */
  dynamoWriteUnit: 0.625 / 1e6,
  /** https://aws.amazon.com/dynamodb/pricing/on-demand/ : $0.125 per million read request units. */
  dynamoReadUnit: 0.125 / 1e6,
  /** https://aws.amazon.com/s3/pricing/ : S3 Standard PUT, COPY, POST, LIST: $0.005 per 1,000 requests. */
  s3Tier1: 0.005 / 1000,
  /** https://aws.amazon.com/s3/pricing/ : S3 Standard GET, HEAD and all other requests: $0.0004 per 1,000. */
  s3Tier2: 0.0004 / 1000,
  /** https://aws.amazon.com/secrets-manager/pricing/ : $0.05 per 10,000 API calls. */
  secretsCall: 0.05 / 10_000,
  /** https://aws.amazon.com/eventbridge/pricing/ : custom events $1.00 per million (AWS service events free). */
  eventBridgeEvent: 1 / 1e6,
  /** https://aws.amazon.com/api-gateway/pricing/ : HTTP APIs, $1.00 per million requests (first 300 million). */
  httpApiRequest: 1 / 1e6,
  /** docs/runware-api.md: klingai:avatar@2.0-pro, USD 0.087 per second of video. */
  runwarePerSecond: 0.087,
};
export const RUNWARE_VIDEO_SECONDS = 30;

// ------------------------------------------------------------------------------ request counting
/** Requests the local stack's servers received from the pipeline (the bench's own are tagged and skipped). */
export const counts = { dynamoRead: 0, dynamoWrite: 0, secrets: 0, s3Tier1: 0, s3Tier2: 0, httpApi: 0 };
let counting: { s3Port: number; dynamoPort: number; webhookPort: number } | undefined;

/** Counts the pipeline's requests to these ports from now on (`undefined`: stop counting). */
export function countRequestsTo(
  ports: { s3Port: number; dynamoPort: number; webhookPort: number } | undefined,
): void {
  counting = ports;
}
const BENCH_HEADER = 'x-avatar-bench';

// Every server of local mode lives in this process: counting at their `request` event sees every call.
const originalEmit = Server.prototype.emit;
Server.prototype.emit = function (this: Server, event: string | symbol, ...args: unknown[]): boolean {
  if (event === 'request' && counting) countRequest(this, args[0] as IncomingMessage, counting);
  return originalEmit.apply(this, [event, ...args] as Parameters<Server['emit']>);
} as Server['emit'];

function countRequest(
  server: Server,
  req: IncomingMessage,
  ports: { s3Port: number; dynamoPort: number; webhookPort: number },
): void {
  if (req.headers[BENCH_HEADER]) return;
  const target = String(req.headers['x-amz-target'] ?? '');
  const port = (server.address() as AddressInfo | null)?.port;
  if (target.startsWith('DynamoDB_')) {
    // The functions' calls pass local mode's IAM pass-through first: counted once, where DynamoDB serves them.
    if (port !== ports.dynamoPort) return;
    // One unit per request: the pipeline's items are under 1 KB (write) / 4 KB (read) and it does no scans.
    if (/\.(Get|Query|Scan|BatchGet|TransactGet)/.test(target)) counts.dynamoRead += 1;
    else counts.dynamoWrite += 1;
  } else if (target.startsWith('secretsmanager.')) counts.secrets += 1;
  else if (port === ports.s3Port) {
    if (req.method === 'GET' || req.method === 'HEAD') counts.s3Tier2 += 1;
    else counts.s3Tier1 += 1;
  } else if (port === ports.webhookPort) counts.httpApi += 1;
}

/** Tags the bench's own SDK requests so that they are not counted as the pipeline's. */
export function tagBenchRequests(stack: LocalStack): void {
  const tag =
    <A extends { request: unknown }, R>(next: (args: A) => Promise<R>) =>
    async (args: A) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers[BENCH_HEADER] = '1';
      return next(args);
    };
  stack.s3.middlewareStack.add(tag, { step: 'build', name: 'benchTag' });
  stack.dynamo.middlewareStack.add(tag, { step: 'build', name: 'benchTag' });
}

/** Lambda run times (from the start of the handler's run, not the wait for a free environment). */
export function timeLambdas(stack: LocalStack): { name: FunctionName; ms: number }[] {
  const runs: { name: FunctionName; ms: number }[] = [];
  const invoke = stack.lambdas.invoke.bind(stack.lambdas);
  stack.lambdas.invoke = (name, event, options = {}) => {
    let started = 0;
    const done = () => {
      if (started) runs.push({ name, ms: performance.now() - started });
    };
    const promise = invoke(name, event, {
      onStart: () => {
        started = performance.now();
        options.onStart?.();
      },
    });
    promise.then(done, done);
    return promise;
  };
  return runs;
}

// -------------------------------------------------------------------- simulator capacity adapter
/** Sets the Runware simulator's per-key capacity (429 above it); counts the submissions it refused. */
export function setSimulatorCapacity(stack: LocalStack, capacity: number): { readonly refused: number } {
  const simulator = stack.simulator;
  if (!simulator) {
    console.error('bench: no simulator, capacity not set');
    return { refused: 0 };
  }
  // The simulator's own per-key limit: above it a new task is answered 429 queueCapacityExceeded.
  simulator.setCapacity(capacity);
  simulator.resetPeakInFlight();
  const submitted = simulator.submissions.length;
  const accepted = simulator.tasks.size;
  return {
    // Submissions the simulator did not turn into a new task: 429 answers (and conflictTaskUUID resends).
    get refused() {
      return simulator.submissions.length - submitted - (simulator.tasks.size - accepted);
    },
  };
}

/** Most tasks the simulator had in flight at once (from their accepted and finished times). */
export function peakInFlight(stack: LocalStack, before: ReadonlySet<string>): number {
  const edges: [number, number][] = [];
  for (const task of stack.simulator?.tasks.values() ?? []) {
    if (before.has(task.taskUUID)) continue;
    edges.push([task.acceptedAt.getTime(), 1]);
    edges.push([task.finishedAt?.getTime() ?? Number.POSITIVE_INFINITY, -1]);
  }
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let peak = 0;
  for (const [, step] of edges) {
    now += step;
    peak = Math.max(peak, now);
  }
  return peak;
}
