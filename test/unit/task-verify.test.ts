/**
 * `pocchain task verify` without a chain: the pure verdict (checkSettled, judge, verifyOutcome),
 * then verifyTask() against a stand-in Hub (plain getFunction views) and a content server, running
 * the real example workloads in the real sandbox.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { ZeroHash, hexlify, keccak256, type Contract } from 'ethers';
import { buildExamples } from '../../examples/build.ts';
import { contentHandler, contentHash } from '../../executor/content.ts';
import { CATEGORY_LIMITS, closeSandbox } from '../../executor/sandbox.ts';
import { checkSettled, judge, verifyTask, type SettledTask } from '../../executor/verify.ts';
import { EXIT_MISMATCH, verifyOutcome } from '../../bin/commands/verify.ts';
import { isPocError } from '../../lib/errors.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const wasm: Record<string, Uint8Array> = {};
const store = new Map<string, Uint8Array>();
let server: Server;
let base: string;

before(async () => {
  const built = await buildExamples();
  for (const [name, path] of Object.entries(built)) wasm[name] = new Uint8Array(await readFile(path));
  for (const name of ['echo', 'trap', 'wordcount']) store.set(contentHash(wasm[name]!), wasm[name]!);
  const serve = contentHandler(async (h) => store.get(h));
  server = createServer(async (req, res) => {
    if (await serve(req, res)) return;
    if (req.url === '/lie') return void res.end('not the app');
    if (req.url === '/echo.wasm') return void res.end(wasm.echo);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await closeSandbox();
});

async function rejectsWith(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.ok(isPocError(e), `expected a PocError, got ${e}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    return;
  }
  assert.fail(`expected ${code}`);
}

const settled = (o: Partial<SettledTask> = {}): SettledTask => ({ taskId: '7', status: 3, category: 0, app: '0x' + 'aa'.repeat(32), dataset: null, input: enc('truth'), result: keccak256(enc('truth')), ...o });

test('checkSettled: only a completed task has a result to verify', async () => {
  await rejectsWith(() => checkSettled(settled({ status: 0 })), 'TASK_UNKNOWN');
  await rejectsWith(() => checkSettled(settled({ status: 1 })), 'TASK_NOT_FINAL');
  await rejectsWith(() => checkSettled(settled({ status: 2 })), 'TASK_NOT_FINAL');
  await rejectsWith(() => checkSettled(settled({ status: 4 })), 'TASK_NO_RESULT');
  checkSettled(settled());
});

test('judge: equal digests agree whatever their case; a different digest or a failing workload disagrees', () => {
  const L = CATEGORY_LIMITS[0]!;
  const digest = keccak256(enc('truth'));
  const ok = judge(settled({ result: digest.toUpperCase().replace('0X', '0x') }), L, { ok: true, digest, outputBytes: 5, durationMs: 3.4 });
  assert.equal(ok.agrees, true);
  assert.deepEqual([ok.chainDigest, ok.localDigest, ok.outputBytes, ok.durationMs, ok.localError], [digest, digest, 5, 3, null]);
  assert.deepEqual([ok.inputHash, ok.inputBytes, ok.status], [keccak256(enc('truth')), 5, 'completed']);
  const wrong = judge(settled({ result: keccak256(enc('wrong result\n')) }), L, { ok: true, digest, outputBytes: 5, durationMs: 1 });
  assert.equal(wrong.agrees, false);
  const failed = judge(settled(), L, { ok: false, code: 'WASM_TRAP', message: 'unreachable' });
  assert.deepEqual([failed.agrees, failed.localDigest, failed.localError], [false, null, { code: 'WASM_TRAP', message: 'unreachable' }]);
  assert.throws(() => judge(settled({ status: 1 }), L, { ok: true, digest, outputBytes: 5, durationMs: 1 }), (e) => isPocError(e, 'TASK_NOT_FINAL'));
});

test('verifyOutcome: exit 0 when it agrees; exit 2 with error.code TASK_RESULT_MISMATCH and the whole report when not', () => {
  const L = CATEGORY_LIMITS[1]!;
  const digest = keccak256(enc('truth'));
  const good = verifyOutcome(judge(settled(), L, { ok: true, digest, outputBytes: 5, durationMs: 1 }));
  assert.equal(good.exitCode ?? 0, 0);
  assert.equal((good.json as any).error, undefined);
  assert.match(good.text, /^task 7: the local run agrees with the chain \(0x[0-9a-f]{64}\)\n/);
  const bad = verifyOutcome(judge(settled({ result: keccak256(enc('x')) }), L, { ok: true, digest, outputBytes: 5, durationMs: 1 }));
  assert.equal(EXIT_MISMATCH, 2);
  assert.equal(bad.exitCode, EXIT_MISMATCH);
  const j = bad.json as any;
  assert.deepEqual([j.error.code, j.agrees, j.chainDigest, j.localDigest], ['TASK_RESULT_MISMATCH', false, keccak256(enc('x')), digest]);
  assert.match(bad.text, /the local run gives 0x/);
});

/** A stand-in Hub: the four views verifyTask reads. */
function fakeHub(t: { status: number; app: string; dataset?: string; input: Uint8Array; result: string; category?: number }, uris: Record<string, string> = {}): Contract {
  const views: Record<string, (...a: any[]) => unknown> = {
    getTask: () => ({ status: BigInt(t.status), category: BigInt(t.category ?? 0), app: t.app, dataset: t.dataset ?? ZeroHash, result: t.result }),
    taskInput: () => hexlify(t.input),
    getApp: (h: string) => ({ uri: uris[h] ?? '' }),
    getDataset: (h: string) => ({ uri: uris[h] ?? '' }),
  };
  return { getFunction: (name: string) => async (...a: any[]) => views[name]!(...a) } as unknown as Contract;
}

test('verifyTask: re-runs the app from the node\'s content store and agrees with an honest result', async () => {
  const app = contentHash(wasm.echo!);
  const r = await verifyTask({ hub: fakeHub({ status: 3, app, input: enc('truth'), result: keccak256(enc('truth')), category: 1 }), baseUrl: base, taskId: 7n });
  assert.equal(r.agrees, true);
  assert.deepEqual(r.limits, CATEGORY_LIMITS[1], 'the limits of the task\'s category, as executors use');
  assert.equal(r.outputBytes, 5);
});

test('verifyTask: a result the workload does not compute disagrees (the colluders\' WRONG_RESULT)', async () => {
  const app = contentHash(wasm.echo!);
  const r = await verifyTask({ hub: fakeHub({ status: 3, app, input: enc('truth'), result: keccak256(enc('wrong result\n')) }), baseUrl: base, taskId: 7n });
  assert.equal(r.agrees, false);
  assert.equal(r.localDigest, keccak256(enc('truth')));
});

test('verifyTask: the dataset is fetched by hash and mounted at /dataset', async () => {
  const data = enc('one two three two\n');
  store.set(contentHash(data), data);
  const app = contentHash(wasm.wordcount!);
  // lines, words, bytes, matches of "two": only a run that read the dataset gives this
  const r = await verifyTask({ hub: fakeHub({ status: 3, app, dataset: contentHash(data), input: enc('two'), result: keccak256(enc('1 4 18 2\n')) }), baseUrl: base, taskId: 8n });
  assert.deepEqual([r.agrees, r.dataset], [true, contentHash(data)]);
});

test('verifyTask: a workload that fails here is a disagreement with the error; nothing is run for an unsettled task', async () => {
  const trap = contentHash(wasm.trap!);
  const r = await verifyTask({ hub: fakeHub({ status: 3, app: trap, input: enc(''), result: keccak256(enc('')) }), baseUrl: base, taskId: 9n });
  assert.deepEqual([r.agrees, r.localDigest, r.localError?.code], [false, null, 'WASM_TRAP']);
  await rejectsWith(verifyTask({ hub: fakeHub({ status: 2, app: '0x' + '11'.repeat(32), input: enc(''), result: ZeroHash }), baseUrl: base, taskId: 10n }), 'TASK_NOT_FINAL');
  await rejectsWith(verifyTask({ hub: fakeHub({ status: 4, app: '0x' + '11'.repeat(32), input: enc(''), result: ZeroHash }), baseUrl: base, taskId: 10n }), 'TASK_NO_RESULT');
});

test('verifyTask: content the node lacks comes from the registered uri, verified; wrong bytes are refused', async () => {
  const missing = contentHash(wasm.echo!);
  store.delete(missing); // the node no longer has it; /echo.wasm serves the same bytes
  try {
    const viaUri = await verifyTask({ hub: fakeHub({ status: 3, app: missing, input: enc('hi'), result: keccak256(enc('hi')) }, { [missing]: `${base}/echo.wasm` }), baseUrl: base, taskId: 11n });
    assert.equal(viaUri.agrees, true);
    await rejectsWith(verifyTask({ hub: fakeHub({ status: 3, app: missing, input: enc('hi'), result: keccak256(enc('hi')) }, { [missing]: `${base}/lie` }), baseUrl: base, taskId: 11n }), 'CONTENT_HASH_MISMATCH');
    await rejectsWith(verifyTask({ hub: fakeHub({ status: 3, app: missing, input: enc('hi'), result: keccak256(enc('hi')) }), baseUrl: base, taskId: 11n }), 'CONTENT_UNAVAILABLE');
  } finally {
    store.set(missing, wasm.echo!);
  }
});
