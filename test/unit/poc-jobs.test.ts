/** Pure parts of the bag CLI (bin/commands/jobs.ts): inputs from a file or a directory, bags, quotes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chunks, leastEscrow, progressLine, readInputs, resultName } from '../../bin/commands/jobs.ts';
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
