/**
 * What every part of the simulator shares while it runs: the log, the stop signal, and the set of background
 * work (renders, webhook deliveries, held acks) that `waitForIdle()` and `stop()` wait for.
 */
export class Runtime {
  private controller = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();

  /** @param log receives one line per event; never the API key or any URL's query string. */
  constructor(readonly log: (line: string) => void) {}

  /** Aborted when the simulator stops: renders are killed, fetches and sleeps end early. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get stopping(): boolean {
    return this.controller.signal.aborted;
  }

  /** A fresh signal for a (re)start. */
  restart(): void {
    this.controller = new AbortController();
  }

  abort(): void {
    this.controller.abort();
  }

  /** Counts a piece of background work until it settles. */
  track(work: Promise<void>): void {
    const tracked = work.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** Resolves when no tracked work is left (work added meanwhile included). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** A sleep that ends early when the simulator stops. */
  sleep(ms: number): Promise<void> {
    const signal = this.controller.signal;
    if (ms <= 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** A timeout that also ends when the simulator stops, for outgoing requests. */
  deadline(ms: number): AbortSignal {
    return AbortSignal.any([AbortSignal.timeout(ms), this.controller.signal]);
  }
}

/** An error in words, including undici's hidden cause code (`fetch failed (ECONNREFUSED)`). */
export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause;
  const code =
    typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string'
      ? ` (${cause.code})`
      : '';
  return `${error.message}${code}`;
}

export function elapsed(startedMs: number): string {
  return `${Math.round(performance.now() - startedMs)} ms`;
}
