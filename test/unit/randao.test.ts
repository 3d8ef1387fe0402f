/**
 * RANDAO block randomness (consensus/randao.ts): a proposer has exactly one reveal per height, the
 * mix follows from it alone, and every wrong reveal or mix is a BLOCK_RULE refusal. Genesis rules
 * for the validators' BLS keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { checkRandao, nextMix, randaoMessage, signReveal } from '../../consensus/randao.ts';
import { decodeSys, encodeSys, type SysData } from '../../consensus/envelope.ts';
import { randaoKey } from '../../lib/keys.ts';
import { blsVerify } from '../../lib/bls.ts';
import { validateGenesis, type Genesis } from '../../chain/genesis.ts';
import { isPocError } from '../../lib/errors.ts';

const CHAIN = '424242';
const v0 = randaoKey(nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(1)).secretKey);
const v1 = randaoKey(nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(2)).secretKey);
const keyOf = (i: number) => [v0.publicKey, v1.publicKey][i];
const parentMix = new Uint8Array(32).fill(7);

const isRule = (e: unknown) => isPocError(e) && e.code === 'BLOCK_RULE';

test('a reveal is unique: signing again gives the same bytes, and it verifies under the key', () => {
  const a = signReveal(v0.secretKey, CHAIN, 10);
  const b = signReveal(v0.secretKey, CHAIN, 10);
  assert.deepEqual(a, b);
  assert.equal(a.length, 96);
  assert.ok(blsVerify(v0.publicKey, randaoMessage(CHAIN, 10), a));
  // another height, another chain: another message and another reveal
  assert.notDeepEqual(signReveal(v0.secretKey, CHAIN, 11), a);
  assert.notDeepEqual(signReveal(v0.secretKey, '1', 10), a);
  assert.notDeepEqual(randaoMessage(CHAIN, 10), randaoMessage('1', 10));
});

test('the key is derived from the consensus key alone (same seed, same BLS key)', () => {
  const again = randaoKey(nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(1)).secretKey);
  assert.deepEqual(again.publicKey, v0.publicKey);
  assert.notDeepEqual(v1.publicKey, v0.publicKey);
});

test('the mix is the parent mix XOR keccak(reveal): it depends on nothing the proposer can pick', () => {
  const reveal = signReveal(v0.secretKey, CHAIN, 10);
  const m = nextMix(parentMix, reveal);
  assert.equal(m.length, 32);
  assert.deepEqual(nextMix(parentMix, reveal), m);
  // XOR with the parent: undo it and the rest is keccak(reveal), the same for any parent
  const zero = nextMix(new Uint8Array(32), reveal);
  assert.deepEqual(m.map((x, i) => x ^ parentMix[i]!), zero);
  assert.notDeepEqual(nextMix(parentMix, signReveal(v1.secretKey, CHAIN, 10)), m);
});

test('checkRandao accepts the right reveal and mix', () => {
  const reveal = signReveal(v1.secretKey, CHAIN, 5);
  assert.doesNotThrow(() => checkRandao({ chainId: CHAIN, height: 5, parentMix, mixHash: nextMix(parentMix, reveal), randao: { signer: 1, reveal }, keyOf }));
});

test('checkRandao refuses each wrong reveal or mix with BLOCK_RULE', () => {
  const reveal = signReveal(v1.secretKey, CHAIN, 5);
  const good = { chainId: CHAIN, height: 5, parentMix, mixHash: nextMix(parentMix, reveal), randao: { signer: 1, reveal }, keyOf };
  const cases: Array<[string, Partial<typeof good> & { randao?: typeof good.randao | undefined }]> = [
    ['no reveal', { randao: undefined }],
    ['reveal of another height', { randao: { signer: 1, reveal: signReveal(v1.secretKey, CHAIN, 6) } }],
    ['reveal of another chain', { randao: { signer: 1, reveal: signReveal(v1.secretKey, '7', 5) } }],
    ['reveal claimed by another validator', { randao: { signer: 0, reveal } }],
    ['signer outside the set', { randao: { signer: 2, reveal } }],
    ['key of no validator', { randao: { signer: 1, reveal: signReveal(randaoKey(new Uint8Array(64).fill(9)).secretKey, CHAIN, 5) } }],
    ['truncated reveal', { randao: { signer: 1, reveal: reveal.slice(0, 95) } }],
    ['garbage reveal', { randao: { signer: 1, reveal: new Uint8Array(randomBytes(96)) } }],
    ['mix not from this reveal', { mixHash: nextMix(parentMix, signReveal(v0.secretKey, CHAIN, 5)) }],
    ['mix from another parent', { mixHash: nextMix(new Uint8Array(32), reveal) }],
    ['zero mix', { mixHash: new Uint8Array(32) }],
  ];
  for (const [name, change] of cases) {
    assert.throws(() => checkRandao({ ...good, ...change } as typeof good), isRule, name);
  }
});

test('system data with a reveal round-trips; without one it keeps the 3-field encoding', () => {
  const reveal = signReveal(v0.secretKey, CHAIN, 3);
  const sys: SysData = { lastCommit: new Uint8Array([1, 2, 3]), evidence: [], deposits: [], randao: { signer: 0, reveal } };
  const back = decodeSys(encodeSys(sys));
  assert.equal(back.randao?.signer, 0);
  assert.deepEqual(back.randao?.reveal, reveal);
  const plain: SysData = { evidence: [], deposits: [] };
  const plainBack = decodeSys(encodeSys(plain));
  assert.equal(plainBack.randao, undefined);
  assert.ok(encodeSys(plain).length < encodeSys({ ...plain, randao: { signer: 0, reveal } }).length);
});

test('decodeSys refuses a malformed reveal', async () => {
  const { Packr } = await import('msgpackr');
  const packr = new Packr({ useRecords: false, variableMapSize: true });
  const bad = [
    [0, new Uint8Array(95)],
    [-1, new Uint8Array(96)],
    [1 << 16, new Uint8Array(96)],
    [1.5, new Uint8Array(96)],
    ['0', new Uint8Array(96)],
    [0],
    'x',
  ];
  for (const rr of bad) {
    assert.throws(() => decodeSys(packr.pack([null, [], [], rr])), (e: unknown) => isPocError(e), JSON.stringify(rr));
  }
  assert.throws(() => decodeSys(packr.pack([null, [], [], [0, new Uint8Array(96)], 'extra'])), (e: unknown) => isPocError(e));
});

function genesisWith(validators: Genesis['validators']): Genesis {
  return { chainId: 1, timestamp: 0, gasLimit: '0x1c9c380', baseFeePerGas: '0x3b9aca00', alloc: {}, validators } as unknown as Genesis;
}
const hex = (b: Uint8Array) => '0x' + Buffer.from(b).toString('hex');
const val = (i: number, k?: typeof v0) => ({
  pubKey: '0x' + String(i).repeat(64),
  address: '0x' + String(i).repeat(40),
  power: 10,
  ...(k ? { blsPubKey: hex(k.publicKey), blsPop: hex(k.pop) } : {}),
});
const isGenesisInvalid = (e: unknown) => isPocError(e) && e.code === 'GENESIS_INVALID';

test('genesis: BLS keys for every validator or none, each with a valid proof of possession', () => {
  assert.doesNotThrow(() => validateGenesis(genesisWith([val(1, v0), val(2, v1)])));
  assert.doesNotThrow(() => validateGenesis(genesisWith([val(1), val(2)])));
  assert.throws(() => validateGenesis(genesisWith([val(1, v0), val(2)])), isGenesisInvalid, 'mixed');
  // another key's proof of possession: a rogue key could otherwise cancel others in an aggregate
  assert.throws(() => validateGenesis(genesisWith([val(1, v0), { ...val(2, v1), blsPop: hex(v0.pop) }])), isGenesisInvalid, 'foreign PoP');
  assert.throws(() => validateGenesis(genesisWith([val(1, v0), { ...val(2, v1), blsPubKey: '0x1234' }])), isGenesisInvalid, 'short key');
  assert.throws(() => validateGenesis(genesisWith([val(1, v0), { ...val(2, v1), blsPop: undefined as unknown as string }])), isGenesisInvalid, 'missing PoP');
});

test('a block seen at round r may carry only the reveal of a proposer of rounds 0..r', async () => {
  const { ValidatorSet } = await import('../../consensus/validators.ts');
  const { revealersUpTo, REVEAL_ROUND_WINDOW } = await import('../../consensus/randao.ts');
  const set = ValidatorSet.create([1, 2, 3, 4].map((i) => ({ pubKey: new Uint8Array(32).fill(i), power: 10n })));
  const p = [0, 1, 2, 3].map((r) => set.proposerForRound(r));
  assert.equal(new Set(p).size, 4, 'equal powers rotate through all four');
  assert.deepEqual([...revealersUpTo(set, 0)], [p[0]]);
  assert.deepEqual([...revealersUpTo(set, 2)].sort(), [p[0], p[1], p[2]].sort());
  assert.equal(revealersUpTo(set, 50).size, 4);
  assert.equal(revealersUpTo(set, REVEAL_ROUND_WINDOW + 1).size, 4, 'far rounds: any validator, without walking the rounds');
  // at round 0, the reveal of round 1's proposer is refused even though it is a validator's own
  const k2 = randaoKey(new Uint8Array(64).fill(3));
  const keys = [v0, v1, k2, k2]; // a BLS key per index (2 and 3 share one: only p[1]'s matters here)
  const reveal = signReveal(keys[p[1]!]!.secretKey, CHAIN, 9);
  const at = (round: number) => ({ chainId: CHAIN, height: 9, parentMix, mixHash: nextMix(parentMix, reveal), randao: { signer: p[1]!, reveal }, keyOf: (i: number) => (revealersUpTo(set, round).has(i) ? keys[i]!.publicKey : undefined) });
  assert.throws(() => checkRandao(at(0)), isRule);
  assert.doesNotThrow(() => checkRandao(at(1)));
});
