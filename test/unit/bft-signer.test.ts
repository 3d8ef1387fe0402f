import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrivValidator, loadOrCreateKeyFile, checkSignRequest, EMPTY_SIGN_STATE } from '../../consensus/bft/signer.ts';
import { voteSignBytes } from '../../consensus/bft/codec.ts';
import { verify } from '../../consensus/bft/crypto.ts';
import { makeBlock, testKeys } from '../../consensus/bft/testkit.ts';
import type { UnsignedVote } from '../../consensus/bft/types.ts';
import { isPocError } from '../../lib/errors.ts';

const chainId = 'signer-chain';
const key = testKeys(1, 'signer')[0]!;
const A = makeBlock(5, 1, 0, 1);
const B = makeBlock(5, 1, 0, 2);
const v = (over: Partial<UnsignedVote> = {}): UnsignedVote => ({ type: 'prevote', height: 5, round: 1, blockHash: A.blockHash, validatorIndex: 0, ...over });
const code = (c: string) => (e: unknown) => isPocError(e, c);

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bft-signer-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('signer persists its last HRS before returning and refuses regressions after a restart', () =>
  withDir(async (dir) => {
    const statePath = join(dir, 'priv_validator_state.json');
    const pv = await PrivValidator.open({ secretKey: key.secretKey, statePath });
    const signed = await pv.signVote(chainId, v());
    assert.ok(verify(voteSignBytes(chainId, signed), signed.signature, key.publicKey));
    const onDisk = JSON.parse(await readFile(statePath, 'utf8'));
    assert.deepEqual([onDisk.height, onDisk.round, onDisk.step], [5, 1, 2]);
    assert.equal(onDisk.signature, Buffer.from(signed.signature).toString('hex'));
    await pv.signVote(chainId, v({ type: 'precommit' }));

    // "Crash" and restart from the file.
    const again = await PrivValidator.open({ secretKey: key.secretKey, statePath });
    assert.deepEqual([again.lastSignState.height, again.lastSignState.round, again.lastSignState.step], [5, 1, 3]);
    await assert.rejects(again.signVote(chainId, v()), code('SIGN_REGRESSION'), 'step regression');
    await assert.rejects(again.signVote(chainId, v({ round: 0, type: 'precommit' })), code('SIGN_REGRESSION'), 'round regression');
    await assert.rejects(again.signVote(chainId, v({ height: 4, round: 9 })), code('SIGN_REGRESSION'), 'height regression');
    await assert.rejects(again.signProposal(chainId, { height: 5, round: 1, polRound: -1, ...A }), code('SIGN_REGRESSION'));
    // Same HRS, different value: double sign refused. Same HRS, same bytes: same signature back.
    await assert.rejects(again.signVote(chainId, v({ type: 'precommit', blockHash: B.blockHash })), code('DOUBLE_SIGN'));
    await assert.rejects(again.signVote(chainId, v({ type: 'precommit', blockHash: null })), code('DOUBLE_SIGN'));
    const replay = await again.signVote(chainId, v({ type: 'precommit' }));
    assert.ok(verify(voteSignBytes(chainId, replay), replay.signature, key.publicKey));
    // Forward progress is allowed.
    await again.signProposal(chainId, { height: 5, round: 2, polRound: -1, ...B });
    await again.signVote(chainId, v({ height: 6, round: 0, blockHash: null }));
    const files = await readdir(dir);
    assert.deepEqual(files, ['priv_validator_state.json'], 'no temp files left behind');
  }));

test('concurrent requests are serialised: exactly one of two conflicting signatures succeeds', () =>
  withDir(async (dir) => {
    const pv = await PrivValidator.open({ secretKey: key.secretKey, statePath: join(dir, 's.json') });
    const results = await Promise.allSettled([pv.signVote(chainId, v()), pv.signVote(chainId, v({ blockHash: B.blockHash }))]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
  }));

test('a corrupt state file stops the signer instead of risking a double sign', () =>
  withDir(async (dir) => {
    const statePath = join(dir, 's.json');
    await writeFile(statePath, '{"height": 5, "round": ');
    await assert.rejects(PrivValidator.open({ secretKey: key.secretKey, statePath }), code('SIGNER_STATE_CORRUPT'));
    await writeFile(statePath, JSON.stringify({ height: -1, round: 0, step: 1, signBytes: null, signature: null }));
    await assert.rejects(PrivValidator.open({ secretKey: key.secretKey, statePath }), code('SIGNER_STATE_CORRUPT'));
  }));

test('checkSignRequest decision table', () => {
  const bytes = new Uint8Array([1, 2, 3]);
  const last = { height: 5, round: 1, step: 2, signBytes: '010203', signature: 'aa'.repeat(64) };
  assert.equal(checkSignRequest(EMPTY_SIGN_STATE, 1, 0, 1, bytes), 'sign');
  assert.equal(checkSignRequest(last, 5, 1, 3, bytes), 'sign');
  assert.equal(checkSignRequest(last, 5, 2, 1, bytes), 'sign');
  assert.equal(checkSignRequest(last, 6, 0, 1, bytes), 'sign');
  const reuse = checkSignRequest(last, 5, 1, 2, bytes);
  assert.ok(reuse !== 'sign' && reuse.reuse.length === 64);
  assert.throws(() => checkSignRequest(last, 5, 1, 2, new Uint8Array([9])), code('DOUBLE_SIGN'));
  assert.throws(() => checkSignRequest(last, 5, 1, 1, bytes), code('SIGN_REGRESSION'));
});

test('key file is created once with mode 600 and reloads the same key', () =>
  withDir(async (dir) => {
    const path = join(dir, 'keys', 'consensus_key.json');
    const k1 = await loadOrCreateKeyFile(path);
    const k2 = await loadOrCreateKeyFile(path);
    assert.deepEqual(k1.publicKey, k2.publicKey);
    const { statSync } = await import('node:fs');
    assert.equal(statSync(path).mode & 0o777, 0o600);
  }));
