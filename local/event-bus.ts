import type { EventBridgeEnvelope } from './events.js';
import { scheduledEvent } from './events.js';
import type { LambdaHost } from './lambda-host.js';
import type { FunctionName, LocalFunction, LocalRule } from './template.js';

/** An event delivered to a function that still failed after Lambda's asynchronous retries (the DLQ's content). */
export interface DeadLetter {
  function: FunctionName;
  event: unknown;
  error: string;
}

export interface LocalEventBusOptions {
  /** The rules of the synthesized template. */
  rules: readonly LocalRule[];
  functions: Readonly<Record<FunctionName, LocalFunction>>;
  lambdas: Pick<LambdaHost, 'invoke'>;
  /** Every event a rule delivers to a function, before it is invoked. */
  onDeliver?: (fn: FunctionName, event: unknown) => void;
  /** Invocations that failed after their retries, of functions with an on-failure destination. */
  onDeadLetter: (letter: DeadLetter) => void;
  /**
   * Wait before the n-th retry of an asynchronous invocation (Lambda waits about a minute, then two; local mode
   * compresses time). @default 1 s, 2 s, 4 s, ...
   */
  retryDelayMs?: (retry: number) => number;
}

/**
 * The default event bus with the template's rules: an event goes to the targets of every rule whose pattern
 * matches, each invoked asynchronously the way Lambda does (the function's own retry count, then the
 * dead-letter queue). Schedules run on a timer.
 */
export class LocalEventBus {
  private readonly pending = new Set<Promise<void>>();
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly options: LocalEventBusOptions) {
    // Refused here, when the rules are loaded, rather than at the first event: see `matches`.
    for (const rule of options.rules) {
      if (!rule.eventPattern) continue;
      try {
        assertSupportedPattern(rule.eventPattern);
      } catch (error) {
        if (error instanceof UnsupportedPatternError) error.message = `Rule ${rule.id}: ${error.message}`;
        throw error;
      }
    }
  }

  /** PutEvents: delivers `event` to the targets of every matching rule. */
  put(event: EventBridgeEnvelope<string, unknown>): void {
    for (const rule of this.options.rules) {
      if (rule.eventPattern && matches(rule.eventPattern, event)) this.deliver(rule, event);
    }
  }

  /** Delivers `event` to the targets of `ruleId` whatever its pattern says (a re-delivery, as EventBridge may). */
  deliverTo(ruleId: string, event: unknown): void {
    this.deliver(this.rule(ruleId), event);
  }

  /** Runs the schedule rules every `intervalMs` (their own rate is minutes; local mode is impatient). */
  startSchedules(intervalMs: number): void {
    for (const rule of this.options.rules.filter((r) => r.scheduleExpression)) {
      const timer = setInterval(() => this.deliver(rule, scheduledEvent(rule.arn)), intervalMs);
      timer.unref();
      this.timers.push(timer);
    }
  }

  /** Invokes the targets of a schedule rule now and waits for them; the results in target order. */
  async runSchedule(ruleId: string): Promise<unknown[]> {
    const rule = this.rule(ruleId);
    const event = scheduledEvent(rule.arn);
    return Promise.all(rule.targets.map((t) => this.options.lambdas.invoke(t.function, event)));
  }

  /** Resolves when every delivery made so far has ended (retries and dead letters included). */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  get busy(): boolean {
    return this.pending.size > 0;
  }

  stop(): void {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
  }

  private rule(ruleId: string): LocalRule {
    const rule = this.options.rules.find((r) => r.id === ruleId);
    if (!rule) throw new Error(`The template has no rule ${ruleId}`);
    return rule;
  }

  private deliver(rule: LocalRule, event: unknown): void {
    for (const target of rule.targets) {
      this.options.onDeliver?.(target.function, event);
      const run = this.invokeAsync(target.function, event);
      this.pending.add(run);
      void run.finally(() => this.pending.delete(run));
    }
  }

  /**
   * Lambda's asynchronous invocation: the function's retries with backoff, then its on-failure destination (the
   * dead-letter queue) if it has one; without one Lambda drops the event.
   */
  private async invokeAsync(fn: FunctionName, event: unknown): Promise<void> {
    const { asyncRetryAttempts: retries, asyncOnFailure } = this.options.functions[fn];
    const delay = this.options.retryDelayMs ?? ((retry: number) => 1000 * 2 ** (retry - 1));
    for (let attempt = 0; ; attempt++) {
      try {
        // EventBridge invokes its Lambda targets asynchronously (InvocationType Event, with its own payload limit).
        await this.options.lambdas.invoke(fn, event, { invocationType: 'Event' });
        return;
      } catch (error) {
        if (attempt >= retries) {
          if (asyncOnFailure)
            this.options.onDeadLetter({ function: fn, event, error: (error as Error).message });
          return;
        }
        await new Promise((r) => setTimeout(r, delay(attempt + 1)));
      }
    }
  }
}

/**
 * EventBridge event pattern matching, for the parts of the pattern language local mode implements
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html and
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html):
 * - every field the pattern names must match (AND); fields it does not name are ignored;
 * - a nested object matches the event's object at that field, field by field;
 * - a list is the values allowed (OR): JSON strings, numbers, booleans and null, matched exactly
 *   (case-sensitive, `5` is not `"5"`), or `{ "prefix": "..." }` for strings;
 * - when the event's value is an array, the field matches if any of its elements does
 *   (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html).
 * Every other operator (`suffix`, `anything-but`, `numeric`, `exists`, `cidr`, `equals-ignore-case`,
 * `wildcard`, `$or`, ...) is refused by {@link assertSupportedPattern} when the rules are loaded: a rule that
 * silently never (or always) matched would hide exactly what local mode is there to show.
 */
export function matches(pattern: Record<string, unknown>, event: unknown): boolean {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return false;
  const record = event as Record<string, unknown>;
  return Object.entries(pattern).every(([field, rule]) => {
    const value = record[field];
    if (Array.isArray(rule)) {
      const values = Array.isArray(value) ? value : [value];
      return values.some((v) => rule.some((allowed) => matchesValue(allowed, v)));
    }
    if (typeof rule === 'object' && rule !== null) return matches(rule as Record<string, unknown>, value);
    throw new UnsupportedPatternError(`${field}: ${JSON.stringify(rule)} is neither a list nor an object`);
  });
}

function matchesValue(allowed: unknown, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof allowed === 'object' && allowed !== null) {
    const { prefix } = allowed as { prefix?: unknown };
    if (typeof prefix === 'string' && Object.keys(allowed).length === 1)
      return typeof value === 'string' && value.startsWith(prefix);
    throw new UnsupportedPatternError(`operator ${JSON.stringify(allowed)}`);
  }
  return value === allowed;
}

/** A pattern uses what local mode's matcher does not implement (see {@link matches}). */
export class UnsupportedPatternError extends Error {
  override readonly name = 'UnsupportedPatternError';
}

/**
 * Throws {@link UnsupportedPatternError} naming the field when `pattern` uses anything {@link matches} does not
 * implement; called for every rule when the bus is made, so an unknown operator stops the start.
 */
export function assertSupportedPattern(pattern: Record<string, unknown>, where = ''): void {
  for (const [field, rule] of Object.entries(pattern)) {
    const path = where ? `${where}.${field}` : field;
    if (Array.isArray(rule)) {
      if (rule.length === 0)
        throw new UnsupportedPatternError(`${path}: an empty list (EventBridge refuses it as invalid)`);
      for (const allowed of rule) {
        if (allowed === null || ['string', 'number', 'boolean'].includes(typeof allowed)) continue;
        const keys = typeof allowed === 'object' ? Object.keys(allowed as object) : [];
        const { prefix } = allowed as { prefix?: unknown };
        if (keys.length === 1 && keys[0] === 'prefix' && typeof prefix === 'string') continue;
        throw new UnsupportedPatternError(
          `${path}: the operator ${JSON.stringify(allowed)} is not implemented by local mode's event bus`,
        );
      }
    } else if (typeof rule === 'object' && rule !== null)
      assertSupportedPattern(rule as Record<string, unknown>, path);
    else
      throw new UnsupportedPatternError(
        `${path}: ${JSON.stringify(rule)} is neither a list of values nor a nested pattern (EventBridge refuses it)`,
      );
  }
}
