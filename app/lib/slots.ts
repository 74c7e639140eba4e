// Bounded concurrency for CPU-heavy work done on behalf of requests (ffmpeg thumbnails, encoding
// uploaded clips): at most `max` at once, first come first served, and optionally a bounded line
// so a burst is turned away instead of piling up work nobody will wait for.

export class Busy extends Error {
  override name = 'Busy';
}

export class Slots {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly max: number,
    readonly maxWaiting = Infinity,
  ) {}

  /** Whether a new caller would be turned away right now. */
  get full(): boolean {
    return this.running >= this.max && this.waiting.length >= this.maxWaiting;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running < this.max) this.running++;
    else if (this.waiting.length >= this.maxWaiting) throw new Busy(`${this.running} running and ${this.waiting.length} waiting`);
    // A finishing call hands its slot straight to the next waiter, so newcomers cannot overtake.
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
