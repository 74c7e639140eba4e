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

test('a reserved place counts against the line until it runs or is released', async () => {
  const slots = new Slots(1, 2);
  const places = [slots.reserve(), slots.reserve(), slots.reserve()];
  assert.ok(slots.full, 'three places taken, none running yet');
  assert.throws(() => slots.reserve(), Busy);
  await assert.rejects(slots.run(async () => 'x'), Busy);
  places[2].release();
  places[2].release(); // a second release gives nothing back twice
  assert.ok(!slots.full);
  const order: string[] = [];
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const first = places[1].run(async () => {
    order.push('1');
    await gate;
  });
  const second = places[0].run(async () => void order.push('0'));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, ['1'], 'one at a time, in the order they asked to run');
  await assert.rejects(places[1].run(async () => {}), /already used/);
  open();
  await Promise.all([first, second]);
  assert.deepEqual(order, ['1', '0']);
  places[0].release(); // after run: nothing to give back
  assert.ok(!slots.full);
  assert.equal(await slots.run(async () => 'free'), 'free');
  const all = [slots.reserve(), slots.reserve(), slots.reserve()];
  assert.ok(slots.full, 'every place was given back');
  all.forEach((p) => p.release());
});
