// Bounded concurrency for CPU-heavy work done on behalf of requests (ffmpeg thumbnails, encoding
// uploaded clips): at most `max` at once, first come first served, and optionally a bounded line
// so a burst is turned away instead of piling up work nobody will wait for.

export class Busy extends Error {
  override name = 'Busy';
}

/** A place in line taken before the work is ready to start; see Slots.reserve. */
export interface Place {
  /** Runs `fn` in a slot (waiting for one in line), then gives the place up. At most once. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  /** Gives the place up without running; harmless after run() or a second time. */
  release(): void;
}

export class Slots {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  /** places taken by reserve() whose work has not yet asked for a slot */
  private reserved = 0;

  constructor(
    readonly max: number,
    readonly maxWaiting = Infinity,
  ) {}

  /** Whether a new caller would be turned away right now. */
  get full(): boolean {
    return this.running + this.waiting.length + this.reserved >= this.max + this.maxWaiting;
  }

  /**
   * Takes a place now (Busy when there is none) for work that can only start later. An upload
   * holds one while its body arrives: places are counted when requests come in, not when their
   * bodies are complete, so a burst of slow uploads is turned away before any of it is read.
   */
  reserve(): Place {
    if (this.full) throw new Busy(this.describe());
    this.reserved++;
    let state: 'held' | 'used' | 'released' = 'held';
    return {
      run: (fn) => {
        if (state !== 'held') return Promise.reject(new Error(`this place in line was already ${state}`));
        state = 'used';
        this.reserved--;
        return this.enter(fn);
      },
      release: () => {
        if (state !== 'held') return;
        state = 'released';
        this.reserved--;
      },
    };
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.full) return Promise.reject(new Busy(this.describe()));
    return this.enter(fn);
  }

  private describe(): string {
    return `${this.running} running, ${this.waiting.length} waiting and ${this.reserved} on their way`;
  }

  /** The caller has checked (or reserved) room in line. */
  private async enter<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running < this.max) this.running++;
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
