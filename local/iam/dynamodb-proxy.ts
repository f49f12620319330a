import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { forward } from '../http-forward.js';
import { closeServer, listenLocal } from '../listen.js';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../template.js';

/**
 * The functions' way to the local DynamoDB: a pass-through that judges each call before dynalite serves it.
 * The resource of a call is its table's ARN, or its index's (`table/<name>/index/<index>`) for a Query or Scan
 * on an index (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/using-identity-based-policies.html).
 */

export interface DynamoCall {
  action: string;
  resources: string[];
}

const tableArn = (table: string) => `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${table}`;

/** The action and resources of a DynamoDB JSON request (`X-Amz-Target: DynamoDB_20120810.<Operation>`). */
export function dynamoCall(target: string, body: Record<string, unknown>): DynamoCall {
  const operation = target.split('.')[1] ?? target;
  const action = `dynamodb:${operation}`;
  if (typeof body.TableName === 'string') {
    const base = tableArn(body.TableName);
    return {
      action,
      resources: [typeof body.IndexName === 'string' ? `${base}/index/${body.IndexName}` : base],
    };
  }
  // BatchGetItem / BatchWriteItem name their tables as the keys of RequestItems; transactions per item.
  if (body.RequestItems && typeof body.RequestItems === 'object')
    return { action, resources: Object.keys(body.RequestItems).map(tableArn) };
  if (Array.isArray(body.TransactItems)) {
    const tables = (body.TransactItems as Record<string, { TableName?: string }>[]).flatMap((item) =>
      Object.values(item).map((op) => op.TableName ?? ''),
    );
    return { action, resources: [...new Set(tables)].map(tableArn) };
  }
  return { action, resources: ['*'] };
}

export type DynamoGuard = (
  call: DynamoCall,
  headers: Record<string, string | string[] | undefined>,
) => string | undefined;

export class DynamoDbProxy {
  private server: Server | undefined;
  private guard: DynamoGuard | undefined;

  /**
   * @param target dynalite's endpoint
   * @param local dynalite's own server, when it runs in this process: a judged call is handed to it directly
   *   instead of over a second HTTP connection (each call saves a loopback round trip and two HTTP parses).
   */
  constructor(
    private readonly target: string,
    private readonly local?: Server,
  ) {}

  /** `guard` answers a refusal message, or nothing to let the call through. */
  setGuard(guard: DynamoGuard): void {
    this.guard = guard;
  }

  async start(port = 0): Promise<string> {
    const target = new URL(this.target);
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
        } catch {
          // dynalite answers a body that is not JSON with its own SerializationException.
        }
        const targetHeader = String(req.headers['x-amz-target'] ?? '');
        const refusal = this.guard?.(dynamoCall(targetHeader, body), req.headers);
        if (refusal) {
          // DynamoDB's JSON error for a refused call (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html).
          const text = JSON.stringify({
            __type: 'com.amazon.coral.service#AccessDeniedException',
            Message: refusal,
          });
          res.writeHead(400, {
            'content-type': 'application/x-amz-json-1.0',
            'content-length': Buffer.byteLength(text),
          });
          res.end(text);
          return;
        }
        if (this.local) return handOver(this.local, req, res, raw);
        forward(target, req, res, { headers: { ...req.headers, 'content-length': raw.length } }).end(raw);
      });
    });
    return listenLocal(this.server, port);
  }

  async stop(): Promise<void> {
    await closeServer(this.server);
  }
}

/**
 * Serves a request whose body was read already with dynalite's own request handler, answering on `res`. dynalite
 * reads only the request's method, URL and headers and its `data` / `end` events (dynalite/index.js).
 */
function handOver(server: Server, req: IncomingMessage, res: ServerResponse, raw: Buffer): void {
  const again = Object.assign(new EventEmitter(), {
    method: req.method,
    url: req.url,
    headers: { ...req.headers, 'content-length': String(raw.length) },
  });
  server.emit('request', again, res);
  if (raw.length > 0) again.emit('data', raw);
  again.emit('end');
}
