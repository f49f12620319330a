/**
 * Routing: `POST /v1` (authentication, the batch of tasks, the `{data}` / `{errors}` answer, and the faults the
 * plan has for the request), `GET /video/...`, and 404 for the rest.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import {
  type Dispatched,
  type ErrorScope,
  failure,
  type Reply,
  readBody,
  refused,
  sendError,
  sendJson,
  statusError,
  unauthorized,
} from './envelopes.js';
import type { FaultPlan } from './faults.js';
import type { TaskRegistry } from './registry.js';
import type { Renderer } from './renderer.js';
import type { Runtime } from './runtime.js';
import type { SimulatedTask, SimulatorErrorItem } from './types.js';
import { scopeOf, uuidOf } from './validation.js';
import { serveVideo } from './video-server.js';

const MAX_REQUEST_BYTES = 5 * 1024 * 1024;

/** What every request body item must at least be, to be dispatched. */
const TaskEnvelopeSchema = z.looseObject({ taskType: z.string() });
const AuthenticationTaskSchema = z.looseObject({ taskType: z.literal('authentication'), apiKey: z.string() });

export interface ApiParts {
  apiKey: string;
  runtime: Runtime;
  plan: FaultPlan;
  registry: TaskRegistry;
  renderer: Renderer;
  /** Tasks received after authentication, counted by `taskType` (rejected ones included). */
  requests: Record<string, number>;
  /** Tasks the key may have in flight; above it a new submission is answered 429. */
  capacity: () => number;
}

export class Api {
  constructor(private readonly parts: ApiParts) {}

  /** Answers one HTTP request. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { pathname } = new URL(req.url ?? '/', 'http://simulator');
    if (pathname === '/v1' || pathname === '/v1/') {
      if (req.method !== 'POST') {
        sendError(res, 405, 'methodNotAllowed', 'Use POST.');
        return;
      }
      const reply = await this.post(req);
      if (!reply.accepted?.length && !reply.drop) {
        sendJson(res, reply.status, reply.body);
        return;
      }
      const answered = this.answer(req, res, reply);
      // Tracked so that waitForIdle() also waits for held acks and the tasks they start.
      this.parts.runtime.track(answered.catch(() => undefined));
      await answered;
      return;
    }
    const video = /^\/video\/([^/]+)$/.exec(pathname);
    if (video?.[1] !== undefined && (req.method === 'GET' || req.method === 'HEAD')) {
      await serveVideo(this.parts.registry, req, res, video[1]);
      return;
    }
    sendError(res, 404, 'notFound', `No route for ${req.method} ${pathname}.`);
  }

  /** `POST /v1`: what to answer, and which tasks the request created. */
  private async post(req: IncomingMessage): Promise<Reply> {
    const { log } = this.parts.runtime;
    let text: string;
    try {
      text = await readBody(req, MAX_REQUEST_BYTES);
    } catch {
      return failure(413, { code: 'requestTooLarge', message: 'The request body is too large.' });
    }
    let json: unknown;
    let parseProblem: string | undefined;
    try {
      json = JSON.parse(text);
    } catch {
      parseProblem = 'The request body is not valid JSON.';
    }
    // Runware also takes the key as a leading `authentication` task, so the body is read before deciding.
    if (!this.isAuthenticated(req.headers.authorization, json)) {
      log('runware-sim: POST /v1 -> 401 (missing or wrong API key)');
      return unauthorized();
    }
    if (parseProblem !== undefined) return failure(400, { code: 'invalidJSON', message: parseProblem });
    if (!Array.isArray(json)) {
      return failure(400, {
        code: 'invalidRequestBody',
        message: 'The request body must be a JSON array of task objects.',
      });
    }

    const tasks: unknown[] = json;
    const types = tasks.map((t) => TaskEnvelopeSchema.safeParse(t).data?.taskType);
    const { requests } = this.parts;
    for (const type of types) requests[type ?? '(none)'] = (requests[type ?? '(none)'] ?? 0) + 1;
    // Errors about the whole request are still scoped to its (first real) task, as Runware does in batches.
    const scopeIndex = types.findIndex((type) => type !== undefined && type !== 'authentication');
    const scope: ErrorScope = { taskType: types[scopeIndex], taskUUID: uuidOf(tasks[scopeIndex]) };

    const fault = this.faultFor(types, scope);
    if (fault.reply) return fault.reply;
    const full = this.atCapacity(tasks, types);
    if (full) return full;

    const data: unknown[] = [];
    const errors: SimulatorErrorItem[] = [];
    const accepted: SimulatedTask[] = [];
    let reported = false;
    for (const item of tasks) {
      const outcome = this.dispatch(item);
      reported ||= outcome.reported === true;
      data.push(...outcome.data);
      errors.push(...outcome.errors);
      if (outcome.accepted) accepted.push(outcome.accepted);
    }
    if (fault.late) {
      log(`runware-sim: POST /v1 videoInference accepted, then ${fault.late.note}`);
      return { ...fault.late.reply, accepted };
    }
    // 200 when anything succeeded (errors of other tasks ride along) or when the errors are a failed task's
    // report; else the refusal's 400 (ASSUMED: D-errors names 400 for a refused request, not for a mixed batch).
    const ok = data.length > 0 || errors.length === 0 || reported;
    return {
      status: ok ? 200 : 400,
      body: { ...(ok ? { data } : {}), ...(errors.length ? { errors } : {}) },
      accepted,
    };
  }

  /**
   * The plan's fault for this request: a `reply` given instead of processing it, or a `late` one given after
   * its tasks were accepted. A submission takes a `submitDrop` fault first, and only without one a
   * `submitStatus` fault; a poll takes a `getResponseStatus` fault.
   */
  private faultFor(
    types: (string | undefined)[],
    scope: ErrorScope,
  ): { reply?: Reply; late?: { reply: Reply; note: string } } {
    const { plan, runtime } = this.parts;
    if (types.includes('videoInference')) {
      const drop = plan.take('submitDrop');
      if (drop && !drop.afterAccept) {
        runtime.log('runware-sim: POST /v1 videoInference -> connection destroyed (submitNetworkError)');
        return { reply: { status: 0, body: {}, drop: true } };
      }
      if (drop) {
        return {
          late: { reply: { status: 0, body: {}, drop: true }, note: 'connection destroyed (acceptThenDrop)' },
        };
      }
      const fault = plan.take('submitStatus');
      if (!fault) return {};
      const reply = failure(fault.status, statusError(fault.status, scope));
      // Only a 5xx can come after acceptance: a refusal (4xx) means Runware never took the task.
      if (fault.afterAccept && fault.status >= 500) {
        return { late: { reply, note: `-> ${fault.status} (fault)` } };
      }
      runtime.log(`runware-sim: POST /v1 videoInference -> ${fault.status} (fault)`);
      return { reply };
    }
    if (types.includes('getResponse')) {
      const fault = plan.take('getResponseStatus');
      if (!fault) return {};
      runtime.log(`runware-sim: POST /v1 getResponse -> ${fault.status} (fault)`);
      return { reply: failure(fault.status, statusError(fault.status, scope)) };
    }
    return {};
  }

  /**
   * Answers a request that created tasks or is to be dropped: starts the tasks, and writes (or withholds) the
   * answer as their `submitDelayMs` / `ackDelayMs` say.
   */
  private async answer(req: IncomingMessage, res: ServerResponse, reply: Reply): Promise<void> {
    const { runtime, renderer } = this.parts;
    const accepted = reply.accepted ?? [];
    if (reply.drop) {
      for (const task of accepted) renderer.start(task);
      req.socket.destroy();
      return;
    }
    const submitDelayMs = Math.max(0, ...accepted.map((t) => t.faults.submitDelayMs ?? 0));
    if (submitDelayMs > 0) {
      runtime.log(`runware-sim: holding the ack for ${submitDelayMs} ms before processing (submitDelayMs)`);
      await runtime.sleep(submitDelayMs);
    }
    for (const task of accepted) renderer.start(task);
    const held = accepted.filter((t) => t.faults.ackDelayMs !== undefined);
    if (held.length > 0) {
      const ackDelayMs = Math.max(0, ...held.map((t) => t.faults.ackDelayMs ?? 0));
      runtime.log(
        `runware-sim: holding the ack for ${ackDelayMs} ms and until the webhooks went out (ackDelayMs)`,
      );
      await Promise.all([runtime.sleep(ackDelayMs), ...held.map((t) => renderer.webhooksPosted(t))]);
    }
    if (res.destroyed || res.socket === null || res.socket.destroyed) {
      runtime.log('runware-sim: the submitter hung up before its ack; the task goes on');
      return;
    }
    sendJson(res, reply.status, reply.body);
  }

  /**
   * Runware's answer when the key's queue is full: 429 `queueCapacityExceeded` for a request with a new
   * `videoInference` task and `capacity` tasks in flight. A task sent again (same UUID) is not new: it gets its
   * usual `conflictTaskUUID`.
   */
  private atCapacity(tasks: unknown[], types: (string | undefined)[]): Reply | undefined {
    const { registry, runtime } = this.parts;
    const capacity = this.parts.capacity();
    const fresh = tasks.filter((t, i) => types[i] === 'videoInference' && !registry.has(uuidOf(t)));
    if (fresh.length === 0 || registry.inFlight + fresh.length <= capacity) return undefined;
    runtime.log(
      `runware-sim: POST /v1 videoInference -> 429 (${registry.inFlight} of ${capacity} in flight)`,
    );
    return failure(429, statusError(429, { taskType: 'videoInference', taskUUID: uuidOf(fresh[0]) }));
  }

  private isAuthenticated(header: string | undefined, body: unknown): boolean {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
    if (bearer !== undefined) return bearer === this.parts.apiKey;
    const firstTask = Array.isArray(body) ? AuthenticationTaskSchema.safeParse(body[0]) : undefined;
    return firstTask?.success === true && firstTask.data.apiKey === this.parts.apiKey;
  }

  private dispatch(item: unknown): Dispatched {
    const envelope = TaskEnvelopeSchema.safeParse(item);
    if (!envelope.success) {
      return refused({
        code: 'missingTaskType',
        message: 'Every task needs a taskType.',
        parameter: 'taskType',
      });
    }
    const { taskType } = envelope.data;
    switch (taskType) {
      case 'authentication':
        return { data: [], errors: [] };
      case 'videoInference':
        return this.parts.registry.submit(item);
      case 'getResponse':
        return this.parts.registry.getResponse(item);
      default:
        return refused({
          code: 'invalidTaskType',
          message: `Task type ${JSON.stringify(taskType)} is not supported by the simulator (videoInference, getResponse).`,
          parameter: 'taskType',
          taskType,
          ...scopeOf(item),
        });
    }
  }
}
