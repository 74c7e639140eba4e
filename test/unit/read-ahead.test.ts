// Unit: reading ahead of a slow consumer (services/pipeline.ts readAhead), the overlap of decoding
// with inference: order kept, and a source that fails while the consumer is busy fails the
// consumer at that item, never as an unhandled rejection (which would end the process).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readAhead } from '../../indexer/services/pipeline';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function* source(n: number, failAfter?: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) {
    await sleep(1);
    if (i === failAfter) throw new Error(`read ${i} failed`);
    yield i;
  }
}

describe('readAhead', () => {
  test('yields every item, in order', async () => {
    const got: number[] = [];
    for await (const x of readAhead(source(10), 4)) got.push(x);
    assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('a read failing while the consumer is busy: the consumer gets the error at that item; nothing is unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const got: number[] = [];
      await assert.rejects(async () => {
        for await (const x of readAhead(source(10, 2), 4)) {
          got.push(x);
          // Busy (inference) long enough for the read ahead to fail meanwhile.
          await sleep(30);
        }
      }, /read 2 failed/);
      assert.deepEqual(got, [0, 1]);
      await sleep(20);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
