import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wal, inputOfWalRecord, scanWal, walRecordOfInput } from '../../consensus/bft/wal.ts';
import { createBftState, step, type BftInput, type BftOutput, type BftState } from '../../consensus/bft/machine.ts';
import { makeBlock, signProposalWith, signVoteWith, testValidators } from '../../consensus/bft/testkit.ts';
import { isPocError } from '../../lib/errors.ts';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bft-wal-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('replay yields only the records after the last endHeight marker', () =>
  withDir(async (dir) => {
    const path = join(dir, 'cs.wal');
    const wal = await Wal.open(path);
    await wal.append({ n: 1 });
    await wal.endHeight(1);
    await wal.append({ n: 2 }, { sync: true });
    await wal.append({ n: 3, bytes: new Uint8Array([1, 2]) });
    await wal.close();
    const again = await Wal.open(path);
    assert.equal(again.opened.truncatedBytes, 0);
    const recs = again.replay() as { n: number; bytes?: Uint8Array }[];
    assert.deepEqual(recs.map((r) => r.n), [2, 3]);
    assert.deepEqual([...recs[1]!.bytes!], [1, 2]);
    await again.close();
    await assert.rejects(again.append({ n: 4 }), (e: unknown) => isPocError(e, 'WAL_CLOSED'));
  }));

test('a torn tail (crash mid-write) is cut off; earlier records survive and appends continue', () =>
  withDir(async (dir) => {
    const path = join(dir, 'cs.wal');
    const wal = await Wal.open(path);
    for (let i = 0; i < 5; i++) await wal.append({ n: i, pad: 'x'.repeat(100) });
    await wal.close();
    const full = (await stat(path)).size;
    await truncate(path, full - 7); // last frame incomplete
    const w2 = await Wal.open(path);
    assert.deepEqual((w2.replay() as { n: number }[]).map((r) => r.n), [0, 1, 2, 3]);
    assert.ok(w2.opened.truncatedBytes > 0);
    await w2.append({ n: 99 });
    await w2.close();
    const w3 = await Wal.open(path);
    assert.deepEqual((w3.replay() as { n: number }[]).map((r) => r.n), [0, 1, 2, 3, 99]);
    assert.equal(w3.opened.truncatedBytes, 0);
    await w3.close();
  }));

test('a corrupt frame (bad crc) ends the log there; garbage length headers are not trusted', () =>
  withDir(async (dir) => {
    const path = join(dir, 'cs.wal');
    const wal = await Wal.open(path);
    for (let i = 0; i < 3; i++) await wal.append({ n: i });
    await wal.close();
    const buf = await readFile(path);
    const frames = scanWal(buf);
    assert.equal(frames.records.length, 3);
    const bad = Buffer.from(buf);
    bad[bad.length - 2]! ^= 0xff; // flip a byte inside the last payload
    await writeFile(path, bad);
    const w2 = await Wal.open(path);
    assert.deepEqual((w2.replay() as { n: number }[]).map((r) => r.n), [0, 1]);
    await w2.close();
    await writeFile(path, Buffer.concat([buf, Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])]));
    const w3 = await Wal.open(path);
    assert.equal(w3.replay().length, 3);
    assert.equal(w3.opened.truncatedBytes, 8);
    await w3.close();
  }));

test('endHeight compacts the file once it grows past maxFileBytes', () =>
  withDir(async (dir) => {
    const path = join(dir, 'cs.wal');
    const wal = await Wal.open(path, { maxFileBytes: 2000 });
    for (let i = 0; i < 30; i++) await wal.append({ n: i, pad: 'y'.repeat(100) });
    await wal.endHeight(1);
    assert.ok(wal.bytes < 100);
    await wal.append({ n: 100 });
    await wal.close();
    const w2 = await Wal.open(path);
    assert.deepEqual((w2.replay() as { n: number }[]).map((r) => r.n), [100]);
    await w2.close();
  }));

test('crash recovery: replaying the WAL through a fresh machine reproduces the same state and outputs', () =>
  withDir(async (dir) => {
    const chainId = 'wal-chain';
    const { set, keysByIndex } = testValidators([1n, 1n, 1n, 1n], 'wal');
    const me = set.proposerForRound(3);
    const others = [0, 1, 2, 3].filter((i) => i !== me);
    const A = makeBlock(1, 0, 0, 1);
    const prop = signProposalWith(keysByIndex[set.proposerForRound(0)]!.secretKey, chainId, { height: 1, round: 0, polRound: -1, ...A });
    const inputs: BftInput[] = [
      { type: 'proposal', proposal: prop },
      ...others.map((i): BftInput => ({ type: 'vote', vote: signVoteWith(keysByIndex[i]!.secretKey, chainId, { type: 'prevote', height: 1, round: 0, blockHash: A.blockHash, validatorIndex: i }) })),
    ];
    const start: BftInput = { type: 'startHeight', height: 1, validators: set, myPubKey: keysByIndex[me]!.publicKey };
    const path = join(dir, 'cs.wal');
    const wal = await Wal.open(path);
    // the driver answers validateBlock right away; verdicts are never logged, so replay re-asks
    const stepAnswering = (st: BftState, input: BftInput, outs: BftOutput[]): BftState => {
      const r = step(st, input);
      outs.push(...r.outputs);
      let cur = r.state;
      for (const o of r.outputs) if (o.type === 'validateBlock') cur = stepAnswering(cur, { type: 'blockValidity', height: o.height, blockHash: o.blockHash, result: 'valid' }, outs);
      return cur;
    };
    let s = createBftState({ chainId });
    const live: BftOutput[] = [];
    for (const input of [start, ...inputs]) {
      const rec = walRecordOfInput(input);
      if (rec !== null) await wal.append(rec); // WAL first, then step
      s = stepAnswering(s, input, live);
    }
    assert.equal(walRecordOfInput({ type: 'blockValidity', height: 1, blockHash: A.blockHash, result: 'invalid' }), null, 'verdicts are not logged');
    // Torn write of a record that never got stepped.
    await wal.close();
    const size = (await stat(path)).size;
    await writeFile(path, Buffer.concat([await readFile(path), Buffer.from([0, 0, 1, 0, 9, 9])]));
    assert.equal((await stat(path)).size, size + 6);

    const reopened = await Wal.open(path);
    let r2 = createBftState({ chainId });
    const replayed: BftOutput[] = [];
    for (const rec of reopened.replay()) {
      const input = inputOfWalRecord(rec, () => set);
      assert.ok(input);
      r2 = stepAnswering(r2, input, replayed);
    }
    await reopened.close();
    const norm = (o: unknown): string => JSON.stringify(o, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : typeof v === 'bigint' ? String(v) : v));
    assert.equal(norm(replayed), norm(live));
    assert.equal(r2.step, s.step);
    assert.equal(r2.lockedValue, s.lockedValue);
    assert.equal(r2.step, 'precommit');
  }));
