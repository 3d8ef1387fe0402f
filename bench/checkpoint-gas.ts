/**
 * Gas of the bridge's L1 operations on a real anvil: a checkpoint for 4, 21 and 100 validators
 * (equal power, the fewest signers that pass: floor(2n/3)+1), a validator-set hand-over of the
 * same size, a Vault deposit and release, and a sidechain Bridge withdrawal; then the aggregate
 * BLS checkpoint (CheckpointsBls, EIP-2537) at 4, 21, 100 and 200 validators side by side with
 * the ECDSA one, and the time the node takes to aggregate and verify an aggregate of n.
 * Run: node bench/checkpoint-gas.ts   (needs `npm run build` first). Not part of npm test.
 */
import { parseEther, type Contract } from 'ethers';
import { checkpointDigest, packSignatures, signValidatorSet, sortValidatorSet, validatorSetDigest, type Checkpoint } from '../bridge/checkpoint.ts';
import { IncrementalMerkleTree, decodeWithdrawalLog } from '../bridge/merkle.ts';
import { getBytes, hexlify, keccak256 } from 'ethers';
import { blsAggregate, blsKeyFromSeed, blsSign, blsVerifyAggregate } from '../lib/bls.ts';
import { aggregateForSubmission, blsValidatorSetDigest, buildBlsSet } from '../bridge/checkpoint-bls.ts';
import { SIDECHAIN_CHAIN_ID } from '../test/contracts/bridge-fixture.ts';
import { addressOf, deploy, deployCheckpoints, sampleCheckpoint, signAll, startL1, validatorKeys } from '../test/contracts/bridge-fixture.ts';

const tuple = (cp: Checkpoint) => [cp.height, cp.blockHash, cp.stateRoot, cp.withdrawalsRoot];

async function gasOf(p: Promise<any>): Promise<bigint> {
  return (await (await p).wait()).gasUsed as bigint;
}

const l1 = await startL1();
const rows: [string, string, string][] = [];
const perSet: { quorum: number; gas: bigint }[] = [];
/** figures for BENCH_JSON (bench/all.ts): gas as decimal strings */
const fig: { checkpoint: Record<number, string>; checkpointBls: Record<number, string>; blsVerifyMs: Record<number, number>; release?: string } = { checkpoint: {}, checkpointBls: {}, blsVerifyMs: {} };
const ecdsaGas: Record<number, bigint> = {};
const blsRows: string[][] = [];
try {
  for (const n of [4, 21, 100]) {
    const keys = validatorKeys(n, `bench${n}`);
    const { checkpoints, domain } = await deployCheckpoints(l1, keys, keys.map(() => 1n));
    const quorum = Math.floor((2 * n) / 3) + 1;
    const signers = keys.slice(0, quorum);
    let first = 0n;
    let later = 0n;
    for (const h of [1n, 2n]) {
      const cp = sampleCheckpoint(h);
      const packed = packSignatures(checkpointDigest(domain, cp), signAll(signers, domain, cp));
      const g = await gasOf(checkpoints.submitCheckpoint(tuple(cp), packed));
      if (h === 1n) first = g;
      else later = g;
    }
    rows.push([`checkpoint, ${n} validators`, `${quorum} sigs`, `${later} (first: ${first})`]);
    fig.checkpoint[n] = String(later);
    ecdsaGas[n] = later;
    perSet.push({ quorum, gas: later });

    const next = sortValidatorSet(1n, validatorKeys(n, `bench${n}-next`).map((k) => ({ address: addressOf(k), power: 1n })));
    const digest = validatorSetDigest(domain, next);
    const packed = packSignatures(digest, signers.map((k) => signValidatorSet(k, domain, next)));
    rows.push([`validator-set change, ${n} -> ${n}`, `${quorum} sigs`, `${await gasOf(checkpoints.updateValidatorSet(next.validators, next.powers, packed))}`]);
  }

  const a = perSet[0]!;
  const b = perSet.at(-1)!;
  rows.push(['  each extra signature (marginal)', '', `${(b.gas - a.gas) / BigInt(b.quorum - a.quorum)}`]);

  // Vault and Bridge
  const [owner, alice] = l1.signers as [any, any];
  const keys = validatorKeys(4, 'bench-vault');
  const { checkpoints, domain } = await deployCheckpoints(l1, keys, [1n, 1n, 1n, 1n]);
  const token = await deploy('TestToken', owner, 'Pocket', 'POC', 0n);
  const vault = await deploy('Vault', owner, await token.getAddress(), await checkpoints.getAddress(), 3600, parseEther('1000000'));
  const bridge = await deploy('Bridge', owner);
  await (await token.mint(alice.address, parseEther('1000'))).wait();
  await (await (token.connect(alice) as Contract).getFunction('approve')(await vault.getAddress(), parseEther('1000'))).wait();
  const dep = [] as bigint[];
  for (let i = 0; i < 2; i++) dep.push(await gasOf((vault.connect(alice) as Contract).getFunction('deposit')(alice.address, parseEther('100'))));
  rows.push(['Vault.deposit', '', `${dep[1]} (first: ${dep[0]})`]);

  const tree = new IncrementalMerkleTree();
  const wd: bigint[] = [];
  const ws = [];
  for (let i = 0; i < 8; i++) {
    const rc = await (await (bridge.connect(alice) as Contract).getFunction('withdraw')(alice.address, { value: parseEther('1') })).wait();
    wd.push(rc.gasUsed);
    const w = decodeWithdrawalLog(rc.logs[0]);
    ws.push(w);
    tree.push(w.leaf);
  }
  rows.push(['Bridge.withdraw (sidechain)', '8 calls', `min ${wd.reduce((a, b) => (a < b ? a : b))}, max ${wd.reduce((a, b) => (a > b ? a : b))}`]);

  const block = (await l1.provider.getBlock('latest'))!;
  const cp: Checkpoint = { height: BigInt(block.number), blockHash: block.hash!, stateRoot: block.stateRoot!, withdrawalsRoot: tree.root() };
  await (await checkpoints.submitCheckpoint(tuple(cp), packSignatures(checkpointDigest(domain, cp), signAll(keys.slice(0, 3), domain, cp)))).wait();
  const rel: bigint[] = [];
  for (const w of ws.slice(0, 3)) {
    rel.push(await gasOf(vault.getFunction('release')(tuple(cp), w.index, w.l1Recipient, w.amount, tree.proof(Number(w.index)))));
  }
  rows.push(['Vault.release', '32-hash proof', `${rel[2]} (first: ${rel[0]})`]);
  fig.release = String(rel[2]);

  // aggregate BLS checkpoints
  for (const n of [4, 21, 100, 200]) {
    const keys = Array.from({ length: n }, (_, i) => blsKeyFromSeed(getBytes(keccak256(new TextEncoder().encode(`bls-bench-${n}-${i}`)))));
    const set = buildBlsSet(keys.map((k) => ({ publicKey: k.publicKey, pop: k.pop, power: 1n })));
    const keyAt = set.members.map((m) => keys.find((k) => hexlify(k.publicKey) === hexlify(m.publicKey))!);
    const c = await deploy('CheckpointsBls', l1.signers[0]!, SIDECHAIN_CHAIN_ID, set.publicKeys, set.powers);
    const domain = { l1ChainId: BigInt(l1.anvil.chainId), checkpoints: await c.getAddress(), sidechainChainId: SIDECHAIN_CHAIN_ID };
    const quorum = Math.floor((2 * n) / 3) + 1;
    const submit = async (h: bigint, count: number) => {
      const cp = sampleCheckpoint(h);
      const d = checkpointDigest(domain, cp);
      const sigs = new Map(Array.from({ length: count }, (_, i) => [i, blsSign(keyAt[i]!.secretKey, getBytes(d))] as const));
      const s = aggregateForSubmission(set, d, sigs);
      return gasOf(c.getFunction('submitCheckpoint')(tuple(cp), s.signers, s.signature));
    };
    const first = await submit(1n, quorum);
    const later = await submit(2n, quorum);
    const all = await submit(3n, n);
    fig.checkpointBls[n] = String(later);
    // node side: aggregate n signatures and verify the aggregate against n keys
    const d = getBytes(checkpointDigest(domain, sampleCheckpoint(9n)));
    const sigs = keyAt.map((k) => blsSign(k.secretKey, d));
    const pks = keyAt.map((k) => k.publicKey);
    const reps = 20;
    let t0 = performance.now();
    let agg = sigs[0]!;
    for (let r = 0; r < reps; r++) agg = blsAggregate(sigs);
    const aggMs = (performance.now() - t0) / reps;
    t0 = performance.now();
    for (let r = 0; r < reps; r++) if (!blsVerifyAggregate(pks, d, agg)) throw new Error('aggregate does not verify');
    const verMs = (performance.now() - t0) / reps;
    fig.blsVerifyMs[n] = Number(verMs.toFixed(2));
    const next = buildBlsSet(Array.from({ length: n }, (_, i) => blsKeyFromSeed(getBytes(keccak256(new TextEncoder().encode(`bls-bench-next-${n}-${i}`))))).map((k) => ({ publicKey: k.publicKey, pop: k.pop, power: 1n })));
    const dSet = blsValidatorSetDigest(domain, 1n, next);
    const hs = aggregateForSubmission(set, dSet, new Map(Array.from({ length: quorum }, (_, i) => [i, blsSign(keyAt[i]!.secretKey, getBytes(dSet))] as const)));
    const handover = await gasOf(c.getFunction('updateValidatorSet')(next.publicKeys, next.powers, hs.signers, hs.signature));
    blsRows.push([String(n), String(quorum), `${later} (first: ${first})`, String(all), ecdsaGas[n] !== undefined ? String(ecdsaGas[n]) : '-', String(handover), aggMs.toFixed(2), verMs.toFixed(2)]);
  }
} finally {
  await l1.stop();
}

const w0 = Math.max(...rows.map((r) => r[0].length));
const w1 = Math.max(...rows.map((r) => r[1].length));
console.log(`${'operation'.padEnd(w0)}  ${'signers'.padEnd(w1)}  gas used`);
for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`);
console.log('');
console.log('aggregate BLS checkpoint (CheckpointsBls, EIP-2537) vs ECDSA (Checkpoints), gas; node: @chainsafe/blst, ms');
const head = ['validators', 'signers', 'BLS checkpoint', 'BLS, all sign', 'ECDSA checkpoint', 'BLS hand-over', 'aggregate n sigs ms', 'verify aggregate ms'];
const widths = head.map((h, i) => Math.max(h.length, ...blsRows.map((r) => r[i]!.length)));
console.log(head.map((h, i) => h.padEnd(widths[i]!)).join('  '));
for (const r of blsRows) console.log(r.map((x, i) => x.padEnd(widths[i]!)).join('  '));
if (process.env.BENCH_JSON) (await import('node:fs')).writeFileSync(process.env.BENCH_JSON, JSON.stringify(fig));
