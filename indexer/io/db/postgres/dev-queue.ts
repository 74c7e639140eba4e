// The order in which the dev server (dev-server.ts) runs its connections' messages on PGlite's
// one backend session. pglite-socket's own queue interleaves connections message by message, so
// one connection's Bind could land between another's Parse and Bind: the unnamed statement was
// the other's, and a search beside a listing failed with "bind message supplies 1 parameters, but
// prepared statement "" requires 2" (test/api.test.ts on PostgreSQL). Here a connection's
// extended-protocol messages are held until its Sync (or Flush) and run together, and while a
// connection has a transaction open only its batches run, as pglite-socket already did.

/** What pglite-socket's handlers call on their server's queue (its QueryQueueManager's shape). */
interface PgliteSession {
  isInTransaction(): boolean;
  runExclusive<T>(fn: () => Promise<T>): Promise<T>;
  execProtocolRawStream(message: Uint8Array, opts: { onRawData: (data: Uint8Array) => void }): Promise<unknown>;
  exec(sql: string): Promise<unknown>;
}

interface Message {
  bytes: Uint8Array;
  onData: (data: Uint8Array) => void;
}

interface Batch {
  handlerId: number;
  messages: Message[];
  resolve: (bytes: number) => void;
  reject: (err: unknown) => void;
}

// Extended-protocol messages held for the batch: Parse, Bind, Describe, Execute, Close. Every other
// frontend message (Sync, Flush, a simple Query, Terminate) ends one: the client waits for answers
// after it.
const HELD = new Set([0x50, 0x42, 0x44, 0x45, 0x43]);

export class BatchingQueue {
  private readonly held = new Map<number, Message[]>();
  private queue: Batch[] = [];
  private processing = false;
  private lastHandlerId: number | null = null;

  constructor(private readonly db: PgliteSession) {}

  enqueue(handlerId: number, bytes: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    const type = bytes[0]!;
    // A startup message has no type byte; its first byte is the high byte of its length (0).
    if (type !== 0 && HELD.has(type)) {
      const held = this.held.get(handlerId) ?? [];
      held.push({ bytes, onData });
      this.held.set(handlerId, held);
      return Promise.resolve(0);
    }
    const messages = [...(this.held.get(handlerId) ?? []), { bytes, onData }];
    this.held.delete(handlerId);
    return new Promise((resolve, reject) => {
      this.queue.push({ handlerId, messages, resolve, reject });
      void this.process();
    });
  }

  private async process(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.queue.length) {
        let at = 0;
        if (this.db.isInTransaction() && this.lastHandlerId !== null) {
          // Inside a transaction only its own connection's work may run; the others wait for it.
          at = this.queue.findIndex((b) => b.handlerId === this.lastHandlerId);
          if (at < 0) break;
        }
        const batch = this.queue.splice(at, 1)[0]!;
        let bytes = 0;
        try {
          await this.db.runExclusive(async () => {
            for (const m of batch.messages) {
              await this.db.execProtocolRawStream(m.bytes, { onRawData: (d) => ((bytes += d.length), m.onData(d)) });
            }
          });
        } catch (err) {
          batch.reject(err);
          continue;
        }
        this.lastHandlerId = batch.handlerId;
        batch.resolve(bytes);
      }
    } finally {
      this.processing = false;
    }
  }

  getQueueLength(): number {
    return this.queue.length;
  }

  clearQueueForHandler(handlerId: number): void {
    this.held.delete(handlerId);
    this.queue = this.queue.filter((b) => (b.handlerId === handlerId ? (b.reject(new Error('Handler disconnected')), false) : true));
  }

  /** A connection that closes inside its transaction: rolled back, so that the others may go on. */
  async clearTransactionIfNeeded(handlerId: number): Promise<void> {
    if (this.db.isInTransaction() && this.lastHandlerId === handlerId) {
      await this.db.exec('ROLLBACK');
      this.lastHandlerId = null;
      await this.process();
    }
  }
}

