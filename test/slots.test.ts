// Slots: the bounded concurrency the app puts in front of ffmpeg thumbnails and clip encoding.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Busy, Slots } from '../app/lib/slots';

test('at most `max` run at once, the rest in arrival order; a full line turns newcomers away', async () => {
  const slots = new Slots(2, 2);
  const order: string[] = [];
  let active = 0;
  let peak = 0;
  const gates = new Map<string, () => void>();
  const job = (name: string) =>
    slots.run(async () => {
      active++;
      peak = Math.max(peak, active);
      order.push(name);
      await new Promise<void>((resolve) => gates.set(name, resolve));
      active--;
      return name;
    });
  const a = job('a');
  const b = job('b');
  const c = job('c');
  const d = job('d');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, ['a', 'b']);
  assert.ok(slots.full);
  await assert.rejects(job('e'), Busy);
  gates.get('b')!();
  assert.equal(await b, 'b');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, ['a', 'b', 'c'], 'the first in line gets the slot');
  assert.ok(!slots.full);
  // A failing job frees its slot too.
  const failed = assert.rejects(
    slots.run(async () => {
      throw new Error('boom');
    }),
    /boom/,
  );
  gates.get('a')!();
  gates.get('c')!();
  await new Promise((r) => setImmediate(r));
  gates.get('d')!();
  assert.deepEqual(await Promise.all([a, c, d]), ['a', 'c', 'd']);
  await failed;
  assert.equal(peak, 2);
  assert.equal(await slots.run(async () => 'free again'), 'free again');
});
