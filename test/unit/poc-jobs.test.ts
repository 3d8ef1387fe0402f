/** Pure parts of the bag CLI (bin/commands/jobs.ts): inputs from a file or a directory, bags, quotes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chunks, collectBags, leastEscrow, progressLine, readInputs, resultName, tasksAtOnce, type JobRef, nextWindow } from '../../bin/commands/jobs.ts';
import type { Contract } from 'ethers';
import { MAX_BAG, MAX_INPUT_BYTES, MIN_REWARD_PER_REPLICA } from '../../consensus/poc/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'pocchain-jobs-'));
const dec = (xs: Uint8Array[]) => xs.map((x) => new TextDecoder().decode(x));

test('a file gives one input per line; CRLF endings and a final newline are not part of any input', () => {
  const f = join(dir, 'in.txt');
  writeFileSync(f, 'alpha\r\nbeta\n\ngamma\n');
  assert.deepEqual(dec(readInputs(f).inputs), ['alpha', 'beta', '', 'gamma']);
  writeFileSync(f, 'no newline at the end');
  assert.deepEqual(dec(readInputs(f).inputs), ['no newline at the end']);
});

test('a directory gives one input per file, in name order', () => {
  const d = join(dir, 'inputs');
  mkdirSync(d);
  writeFileSync(join(d, 'b.bin'), 'second');
  writeFileSync(join(d, 'a.bin'), 'first');
  mkdirSync(join(d, 'sub'));
  const r = readInputs(d);
  assert.deepEqual(r.names, ['a.bin', 'b.bin']);
  assert.deepEqual(dec(r.inputs), ['first', 'second']);
});

test('bad inputs are refused before any transaction, with a code', () => {
  assert.throws(() => readInputs(join(dir, 'missing')), { code: 'CLI_BAD_INPUTS' });
  const empty = join(dir, 'empty.txt');
  writeFileSync(empty, '');
  assert.throws(() => readInputs(empty), { code: 'CLI_BAD_INPUTS' });
  const big = join(dir, 'big.txt');
  writeFileSync(big, 'ok\n' + 'x'.repeat(MAX_INPUT_BYTES + 1) + '\n');
  assert.throws(() => readInputs(big), (e: any) => e.code === 'CLI_BAD_INPUTS' && /line 2/.test(e.message));
});

test('bags of at most MAX_BAG, the least escrow, the progress line, result names', () => {
  const xs = Array.from({ length: 2 * MAX_BAG + 3 }, (_, i) => i);
  assert.deepEqual(chunks(xs).map((c) => c.length), [MAX_BAG, MAX_BAG, 3]);
  assert.deepEqual(chunks(xs).flat(), xs);
  assert.equal(leastEscrow(5n, 3), 5n + 3n * MIN_REWARD_PER_REPLICA);
  assert.equal(progressLine(50, 200, 49, 1, 8), '[##......] 50/200 settled (49 completed, 1 failed)');
  assert.equal(resultName(7, 200, 'out'), '007.out');
  assert.equal(resultName(0, 1, 'out'), '0.out');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('paced bag: the next job is requested only when it fits under the in-flight bound; progress counts the whole bag', async () => {
  // a fake Hub: every task settles (completed) two polls after its job was requested
  let poll = 0;
  const requestedAt = new Map<bigint, number>();
  const hub = {
    async taskResults(first: bigint, count: number) {
      const s = Array.from({ length: count }, (_, i) => (poll - requestedAt.get(first + BigInt(i))! >= 2 ? 3n : 1n));
      return [s, s.map(() => '0x' + '11'.repeat(32))];
    },
  } as unknown as Contract;
  const sizes = [2, 2, 1];
  const order: string[] = [];
  let next = 1n;
  const job = (count: number): JobRef => {
    const j = { jobId: BigInt(order.length + 1), firstTaskId: next, count, tx: '0x', block: poll };
    for (let i = 0; i < count; i++) requestedAt.set(next + BigInt(i), poll);
    next += BigInt(count);
    return j;
  };
  const first = job(sizes.shift()!);
  order.push(`job 1 at poll 0`);
  const lines: string[] = [];
  const unsettledSeen: number[] = [];
  const res = await collectBags(hub, 'http://127.0.0.1:1', [first], {
    log: (l) => lines.push(l),
    total: 5,
    pollMs: 1,
    more: async (unsettled) => {
      unsettledSeen.push(unsettled);
      poll++;
      // the bound is 2: a job of 2 is requested only once nothing is in flight
      if (sizes.length === 0 || unsettled + sizes[0]! > 2) return undefined;
      const j = job(sizes.shift()!);
      order.push(`job ${j.jobId} after ${unsettled} unsettled`);
      return j;
    },
  });
  assert.equal(res.completed, 5);
  assert.equal(res.failed, 0);
  assert.equal(res.statuses.length, 5);
  assert.deepEqual(order, ['job 1 at poll 0', 'job 2 after 0 unsettled', 'job 3 after 0 unsettled']);
  assert.ok(unsettledSeen.every((u) => u <= 2), 'never more than the bound in flight');
  assert.match(lines.at(-1)!, /5\/5 settled \(5 completed, 0 failed\)/);
  assert.ok(lines.every((l) => / \d\/5 settled/.test(l)), 'progress is over the whole bag from the start');
});

test('pacing: tasks the free slots run at once, at the executors a fresh task of that trust draws (within the replicas asked)', () => {
  const table: [slots: number, trust: bigint, min: number, max: number, solo: boolean, replicas: number, tasks: number][] = [
    [24, 5n, 3, 3, false, 3, 8], // the bench: 3 executors of 8, trust 5 needs 3 newcomers
    [24, 3n, 2, 2, false, 2, 12], // the walkthrough's bag
    [24, 3n, 1, 8, false, 2, 12], // the CLI's default replicas: trust 3 draws 2, not 8
    [24, 100n, 1, 8, false, 7, 3], // trust 100 draws 7 newcomers
    [24, 100n, 1, 4, false, 4, 6], // ... but never more than max
    [24, 1n, 3, 8, false, 3, 8], // trust 1 needs one, min asks for 3
    [2, 5n, 3, 3, false, 3, 1], // fewer slots than a task needs: one at a time, not none
    [0, 5n, 3, 3, false, 3, 1],
  ];
  for (const [slots, trust, minReplicas, maxReplicas, solo, replicas, tasks] of table) {
    assert.deepEqual(tasksAtOnce(slots, { trust, minReplicas, maxReplicas, solo }), { replicas, tasks }, `${slots} slots, trust ${trust}, ${minReplicas}..${maxReplicas}`);
  }
});

test('nextWindow: failures halve the bag\'s window down to one job; settled tasks grow it back one job per window, up to the max', () => {
  const o = { jobSize: 64, max: 128 };
  const cases: [window: number, settled: number, failed: number, want: number][] = [
    [128, 10, 1, 64], // a failure halves
    [64, 5, 5, 64], // never below one job
    [100, 3, 2, 64],
    [64, 64, 0, 128], // a window's worth settled: one job more
    [64, 32, 0, 96],
    [128, 500, 0, 128], // capped
    [64, 0, 0, 64], // nothing settled: unchanged
  ];
  for (const [w, settled, failed, want] of cases) assert.equal(nextWindow(w, { ...o, settled, failed }), want, `window ${w}, ${settled} settled, ${failed} failed`);
});
