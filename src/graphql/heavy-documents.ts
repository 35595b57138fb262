// Large documents run a few at a time. A document that may resolve tens of thousands of fields
// (100 organizations × 50 members is ≈ 60,000) holds its rows, its result tree and then its
// serialized answer in memory while it runs; ten of them at once on a two-core machine don't
// finish sooner than two at a time would, but they hold all of that at once, and the garbage
// collector pays for it. Documents whose estimate (argument-limits.ts) reaches
// HEAVY_QUERY_FIELDS wait here for one of HEAVY_QUERY_CONCURRENCY slots, in arrival order; the
// request timeout counts the wait, and a request that timed out while waiting never runs.
// Smaller documents never wait.

export class GateTimeout extends Error {
  constructor() {
    super("the request timed out while waiting for a slot for large documents");
  }
}

/** At most `limit` tasks at once; the rest wait in arrival order. */
export class ConcurrencyGate {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(readonly limit: number) {}

  get running(): number {
    return this.active;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Runs `task` when a slot is free. `deadline` (a performance.now() value) is when its request
   * is answered anyway (TIMEOUT): a task still waiting then is dropped with GateTimeout.
   */
  async run<T>(task: () => Promise<T> | T, deadline = Number.POSITIVE_INFINITY): Promise<T> {
    if (this.active >= this.limit) {
      await new Promise<void>((resolve) => this.queue.push(resolve));
      // The slot was handed over by the task that finished (active stays counted for us).
      if (performance.now() >= deadline) {
        this.release();
        throw new GateTimeout();
      }
    } else {
      this.active++;
    }
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.active--;
  }
}
