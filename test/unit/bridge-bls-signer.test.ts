/**
 * The node's BLS checkpoint service (bridge/checkpoint-signer.ts, scheme 'bls') on a real LevelDB
 * chain with an in-memory gossip: it signs the checkpoint and the hand-over of a set change with
 * its BLS key, naming its position in the contract's order; received signatures are verified one
 * by one before they are kept (a signature of other contents, one under another signer's position
 * and an ECDSA-format message are rejected); the served views verify as an aggregate; and a
 * restarted node serves the hand-over signatures it had (saved in LevelDB), with no gossip at all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getBytes, hexlify, keccak256, toUtf8Bytes, Wallet } from 'ethers';
import { Chain } from '../../chain/chain.ts';
import { buildGenesis } from '../../chain/devgenesis.ts';
import type { P2PNode } from '../../chain/p2p/index.ts';
import { sysHash, type SysData } from '../../consensus/envelope.ts';
import { blockTransition } from '../../consensus/transition.ts';
import { depositSteps } from '../../bridge/deposits-hook.ts';
import { blsSigning, CheckpointService, decodeCheckpointGossip, encodeBlsCheckpointMessage, encodeBlsHandoverMessage, encodeCheckpointMessage, type HandoverView } from '../../bridge/checkpoint-signer.ts';
import { checkpointDigest, signDigest, type CheckpointDomain } from '../../bridge/checkpoint.ts';
import { aggregateForSubmission, blsValidatorSetDigest, orderBlsSet } from '../../bridge/checkpoint-bls.ts';
import { blsL1Set, orderBlsL1Set, type OperatorMember } from '../../bridge/handover.ts';
import { blsKeyFromSeed, blsSign, blsVerify, type BlsKey } from '../../lib/bls.ts';

const L = 4;
const keys: BlsKey[] = Array.from({ length: 5 }, (_, i) => blsKeyFromSeed(getBytes(keccak256(toUtf8Bytes(`bls-signer-${i}`)))));
const member = (k: BlsKey, power: bigint): OperatorMember => ({ operator: Wallet.createRandom().address, power, blsPubKey: k.publicKey });
const set0 = keys.slice(0, 4).map((k) => member(k, 10n));
const set1 = [...set0, member(keys[4]!, 20n)];
/** epoch 0 (heights 1..4) is set 0, then set 1: one hand-over at boundary 4 */
const setAt = async (h: number) => (h <= L ? set0 : set1);
const domain: CheckpointDomain = { l1ChainId: 31337n, checkpoints: '0x' + '42'.repeat(20), sidechainChainId: 4242n };
const order0 = orderBlsL1Set(0n, blsL1Set(set0)).validators;
const pos = (k: BlsKey) => order0.indexOf(hexlify(k.publicKey));

/** An in-memory gossip: what the service publishes, and a way to hand it a peer's message. */
function fakeP2P() {
  const published: Uint8Array[] = [];
  let handler: ((d: Uint8Array, from: string) => Promise<'accept' | 'ignore' | 'reject'>) | undefined;
  const p2p = {
    subscribe: (_t: string, h: typeof handler) => ((handler = h), () => (handler = undefined)),
    publish: async (_t: string, d: Uint8Array) => void published.push(d),
  } as unknown as P2PNode;
  return { p2p, published, deliver: (d: Uint8Array) => handler!(d, 'peer') };
}

test('BLS checkpoint service: signs with its position, verifies each received signature, keeps hand-over signatures across a restart', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bridge-bls-'));
  const genesis = buildGenesis({ chainId: 4242, validators: [{ pubKey: '0x' + '11'.repeat(32), address: Wallet.createRandom().address, power: 1 }] });
  const chain = await Chain.open({ datadir: dir, genesis, hooks: blockTransition([depositSteps()]) });
  try {
    const empty: SysData = { evidence: [], deposits: [] };
    for (let i = 0; i < L + 1; i++) await chain.commit(await chain.build(chain.nextHeader({ coinbase: new Uint8Array(20), extraData: sysHash(empty) }), [], 100, empty));
    const opts = { chain, domain, setAt, setEpochLength: L, epochLength: L, rebroadcastMs: 3_600_000 };

    const g = fakeP2P();
    const me = keys[0]!;
    const svc = new CheckpointService({ ...opts, p2p: g.p2p, signing: blsSigning(me) });
    await svc.start();
    let h1 = (await svc.handover(1)) as HandoverView;
    await svc.stop(); // drains the start-up tasks (checkpoint 4 signed)
    await svc.start();

    // what it signed and gossiped: the hand-over and checkpoint 4, under its position, verifiable
    const next = orderBlsSet(set1.map((m) => ({ publicKey: m.blsPubKey!, power: m.power })));
    assert.equal(h1.digest, blsValidatorSetDigest(domain, 1n, next));
    assert.equal(h1.publicKeys, next.publicKeys);
    const sent = g.published.map(decodeCheckpointGossip);
    const ho = sent.find((m) => m.kind === 'handover')!;
    const cp = sent.find((m) => m.kind === 'checkpoint')!;
    assert.ok(ho && ho.scheme === 'bls' && ho.setId === 1 && ho.boundary === L && ho.position === pos(me));
    assert.ok(blsVerify(me.publicKey, getBytes(h1.digest), getBytes(ho.signature)));
    assert.ok(cp && cp.kind === 'checkpoint' && cp.scheme === 'bls' && cp.position === pos(me) && Number(cp.cp.height) === L);
    const cpDigest = checkpointDigest(domain, cp.cp);
    assert.ok(blsVerify(me.publicKey, getBytes(cpDigest), getBytes(cp.signature)));

    // peers' hand-over signatures: verified one by one before they are kept
    const sig = (k: BlsKey, digest: string) => hexlify(blsSign(k.secretKey, getBytes(digest)));
    const other = keccak256(toUtf8Bytes('other contents'));
    const hoMsg = (k: BlsKey, position: number, s: string) => encodeBlsHandoverMessage(L, 1, position, s, Date.now());
    assert.equal(await g.deliver(hoMsg(keys[1]!, pos(keys[1]!), sig(keys[1]!, h1.digest))), 'accept');
    assert.equal(await g.deliver(hoMsg(keys[1]!, pos(keys[1]!), sig(keys[1]!, h1.digest))), 'ignore', 'a repeat is kept once');
    assert.equal(await g.deliver(hoMsg(keys[2]!, pos(keys[2]!), sig(keys[2]!, other))), 'reject', 'a signature of other contents');
    assert.equal(await g.deliver(hoMsg(keys[3]!, pos(keys[2]!), sig(keys[3]!, h1.digest))), 'reject', "a valid signature under another signer's position");
    assert.equal(await g.deliver(hoMsg(keys[4]!, 4, sig(keys[4]!, h1.digest))), 'reject', 'the incoming validator is not in the outgoing set');
    assert.equal(await g.deliver(hoMsg(keys[2]!, pos(keys[2]!), sig(keys[2]!, h1.digest))), 'accept');
    // checkpoint signatures likewise; an ECDSA-format message has no place on a BLS chain
    const cpMsg = (k: BlsKey, position: number, s: string) => encodeBlsCheckpointMessage(cp.cp, position, s, Date.now());
    assert.equal(await g.deliver(cpMsg(keys[3]!, pos(keys[3]!), sig(keys[3]!, other))), 'reject');
    assert.equal(await g.deliver(cpMsg(keys[3]!, pos(keys[3]!), sig(keys[3]!, cpDigest))), 'accept');
    assert.equal(await g.deliver(encodeCheckpointMessage(cp.cp, signDigest(Wallet.createRandom().signingKey, cpDigest).signature, Date.now())), 'reject');

    // what it serves: only verified signatures, which aggregate into one that verifies
    h1 = (await svc.handover(1))!;
    assert.deepEqual(h1.signatures.map((s) => s.signer).sort(), [keys[0]!, keys[1]!, keys[2]!].map((k) => hexlify(k.publicKey)).sort());
    assert.deepEqual([h1.signedPower, h1.totalPower, h1.quorum], ['30', '40', true]);
    const set0Bls = orderBlsSet(set0.map((m) => ({ publicKey: m.blsPubKey!, power: m.power })));
    for (const d of [h1.digest]) aggregateForSubmission(set0Bls, d, new Map(h1.signatures.map((s) => [s.position!, getBytes(s.signature)])));
    const v = (await svc.view(L))!;
    assert.deepEqual([v.scheme, v.signedPower, v.quorum, v.signatures.length], ['bls', '20', false, 2]);
    await svc.stop();

    // restarted (here as a node that only collects, and hears no gossip): the hand-over
    // signatures come back from LevelDB; checkpoint signatures were memory only
    const quiet = fakeP2P();
    const again = new CheckpointService({ ...opts, p2p: quiet.p2p, signing: blsSigning(null) });
    await again.start();
    const h1b = (await again.handover(1))!;
    assert.deepEqual(h1b.signatures, h1.signatures);
    assert.equal(h1b.quorum, true);
    assert.equal((await again.view(L))!.signatures.length, 0);
    assert.equal(quiet.published.length, 0, 'a node without a key gossips nothing');
    await again.stop();
  } finally {
    await chain.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
