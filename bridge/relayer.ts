/**
 * The checkpoint relayer: polls sidechain nodes for the latest checkpoint and the signatures they
 * collected, and when more than 2/3 of the L1 validator set's power has signed a height above L1's
 * latest, submits it to Checkpoints with the fewest signatures that pass (selectQuorum).
 *
 * A checkpoint signed by a validator set L1 does not hold yet (its `setId`, counted as
 * bridge/handover.ts explains, above L1's validatorSetId) is preceded by the pending hand-overs,
 * in order: each is fetched from the sources (pocchain_handover, signatures merged), its digest
 * recomputed here from the set it carries, and submitted with `updateValidatorSet` when more than
 * 2/3 of the set L1 holds has signed it. A checkpoint signed by a set older than L1's can no longer
 * land (stale-set): the next one will.
 *
 * On CheckpointsBls (the scheme is read from the contract) the same flow submits one aggregate:
 * each source's signatures are matched by BLS key to the positions of the set L1 holds and
 * verified one by one (blst) — a bad signature from one source is dropped and logged, it never
 * spoils the aggregate — then `aggregateForSubmission` builds the signer bitmap and the aggregate,
 * checked here before `submitCheckpoint(cp, signers, signature)` / `updateValidatorSet(keys,
 * powers, signers, signature)`. Hand-overs carry the incoming keys in the contract's order; their
 * digest is recomputed here from those keys.
 *
 * Idempotent by construction: the contract accepts each height once and only increasing heights.
 * Before sending, the relayer waits until none of its own transactions are pending (a relayer
 * killed after sending and restarted does not send the same checkpoint again while the first is
 * in the mempool), re-reads L1's latest height, and simulates the call; a HeightNotIncreasing
 * revert (another relayer won the race) is logged and harmless.
 */
import { Contract, getBytes, hexlify, JsonRpcProvider, type Signer } from 'ethers';
import { blsVerify } from '../lib/bls.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import type { CheckpointView, HandoverView, ServedSignature } from './checkpoint-signer.ts';
import { checkpointDigest, selectQuorum, validatorSetDigest, type CheckpointDomain } from './checkpoint.ts';
import { aggregateForSubmission, blsKeysFromContract, blsValidatorSetDigest, orderBlsSet, type BlsSet } from './checkpoint-bls.ts';
import { handoversBefore } from './handover.ts';
import { checkpointsAbi, checkpointScheme, type CheckpointScheme } from './l1-checkpoints.ts';
import { isPocError, PocError } from '../lib/errors.ts';

export type RelayerErrorCode = 'RELAYER_NO_SOURCE' | 'RELAYER_DIGEST_MISMATCH';

/** What the contract takes as proof of a quorum: packed ECDSA signatures, or a bitmap and an aggregate. */
type QuorumProof = { args: unknown[]; signers: number };

export interface RelayerOptions {
  /** sidechain JSON-RPC URLs (signatures are merged across them) */
  sources: string[];
  l1: JsonRpcProvider;
  signer: Signer;
  checkpoints: string;
  sidechainChainId: bigint;
  logger?: Logger;
  /** TEST ONLY: called right after a submission is sent (before its receipt) */
  afterSend?: (txHash: string, height: number) => Promise<void> | void;
}

/** A hand-over landed on L1 (txHash null: another relayer landed it first). */
export interface HandoverLanded {
  setId: number;
  txHash: string | null;
  gasUsed: bigint;
  signers: number;
}

export type RelayOutcome =
  | { kind: 'submitted'; height: number; txHash: string; gasUsed: bigint; signers: number; handovers: HandoverLanded[] }
  | { kind: 'handover-pending'; height: number; setId: number; reason: 'unknown' | 'no-quorum'; signedPower?: string; totalPower?: string; handovers: HandoverLanded[] }
  | { kind: 'stale-set'; height: number; setId: number; l1SetId: number }
  | { kind: 'up-to-date'; height: number; l1Height: number }
  | { kind: 'no-quorum'; height: number; signedPower: string; totalPower: string }
  | { kind: 'lost-race'; height: number }
  | { kind: 'nothing' };

async function rpcCall(url: string, method: string, params: unknown[] = []): Promise<any> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), signal: AbortSignal.timeout(10_000) });
  const j = (await r.json()) as { result?: unknown; error?: { message: string } };
  if (j.error) throw new Error(`${method}: ${j.error.message}`);
  return j.result;
}

export class Relayer {
  private readonly o: RelayerOptions;
  private readonly log: Logger;
  private cpsContract?: Contract;
  private scheme?: CheckpointScheme;
  private domain?: CheckpointDomain;

  constructor(o: RelayerOptions) {
    this.o = o;
    this.log = (o.logger ?? silentLogger).child({ module: 'relayer' });
  }

  /** The checkpoints contract, with the ABI of its scheme (read from the contract once). */
  private get cps(): Contract {
    return this.cpsContract!;
  }

  private async init(): Promise<void> {
    if (this.cpsContract) return;
    this.scheme = await checkpointScheme(this.o.l1, this.o.checkpoints);
    this.cpsContract = new Contract(this.o.checkpoints, checkpointsAbi(this.scheme), this.o.signer);
  }

  /**
   * The proof of a quorum of the set L1 holds over `digest`, or null when the valid signatures
   * fall short. BLS: signatures are matched to L1's positions by key and verified one by one.
   */
  private async quorum(digest: string, sigs: readonly ServedSignature[]): Promise<QuorumProof | null> {
    const [members, powers] = (await this.cps.getFunction('validators')()) as [string[] | string, bigint[]];
    if (this.scheme === 'ecdsa') {
      try {
        const q = selectQuorum(digest, sigs, { validators: [...(members as string[])], powers: [...powers] });
        return { args: [q.packed], signers: q.signers.length };
      } catch {
        return null;
      }
    }
    const keys = blsKeysFromContract(members as string);
    const set: BlsSet = { members: keys.map((k, i) => ({ publicKey: k, pop: new Uint8Array(0), power: powers[i]! })), publicKeys: members as string, powers: [...powers], totalPower: powers.reduce((a, b) => a + b, 0n) };
    const position = new Map(keys.map((k, i) => [hexlify(k), i]));
    const chosen = new Map<number, Uint8Array>();
    for (const s of sigs) {
      const i = position.get(String(s.signer).toLowerCase());
      if (i === undefined || chosen.has(i)) continue;
      let sig: Uint8Array;
      try {
        sig = getBytes(s.signature);
      } catch {
        continue;
      }
      if (!blsVerify(keys[i]!, getBytes(digest), sig)) {
        this.log.warn({ signer: s.signer, position: i }, 'a source served a BLS signature that does not verify: dropped');
        continue;
      }
      chosen.set(i, sig);
    }
    try {
      const a = aggregateForSubmission(set, digest, chosen);
      return { args: [a.signers, a.signature], signers: chosen.size };
    } catch (e) {
      if (isPocError(e, 'BLS_NO_QUORUM')) return null;
      throw e;
    }
  }

  private async getDomain(): Promise<CheckpointDomain> {
    if (!this.domain) {
      const net = await this.o.l1.getNetwork();
      this.domain = { l1ChainId: net.chainId, checkpoints: this.o.checkpoints, sidechainChainId: this.o.sidechainChainId };
    }
    return this.domain;
  }

  /** The newest checkpoint any source has, with every source's signatures for it merged. */
  async collect(): Promise<CheckpointView | null> {
    const views = (await Promise.all(this.o.sources.map((u) => rpcCall(u, 'pocchain_latestCheckpoint').catch((e) => (this.log.debug({ source: u, err: (e as Error).message }, 'source failed'), undefined))))) as (CheckpointView | null | undefined)[];
    const ok = views.filter((v): v is CheckpointView => !!v);
    if (ok.length === 0) {
      if (views.every((v) => v === undefined)) throw new PocError<RelayerErrorCode>('RELAYER_NO_SOURCE', `no sidechain node answered (${this.o.sources.join(', ')})`);
      return null;
    }
    const best = ok.reduce((a, b) => (b.checkpoint.height > a.checkpoint.height || (b.checkpoint.height === a.checkpoint.height && b.quorum && !a.quorum) ? b : a));
    // other sources may hold more signatures for the same checkpoint; a signer served with two
    // different signatures keeps both (one may be bad: the quorum check keeps a valid one)
    const sigs = new Map(best.signatures.map((s) => [`${s.signer}:${s.signature}`, s]));
    await Promise.all(
      this.o.sources.map(async (u) => {
        const v = (await rpcCall(u, 'pocchain_checkpoint', [best.checkpoint.height]).catch(() => null)) as CheckpointView | null;
        if (v && v.digest === best.digest) for (const s of v.signatures) sigs.set(`${s.signer}:${s.signature}`, s);
      }),
    );
    return { ...best, signatures: [...sigs.values()] };
  }

  /** One relay attempt. */
  async runOnce(): Promise<RelayOutcome> {
    await this.init();
    const view = await this.collect();
    if (!view) return { kind: 'nothing' };
    const height = view.checkpoint.height;
    const l1Height = Number(await this.cps.getFunction('latestHeight')());
    if (height <= l1Height) return { kind: 'up-to-date', height, l1Height };
    const domain = await this.getDomain();
    const cp = { height: BigInt(height), blockHash: view.checkpoint.blockHash, stateRoot: view.checkpoint.stateRoot, withdrawalsRoot: view.checkpoint.withdrawalsRoot };
    const digest = checkpointDigest(domain, cp);
    if (digest !== view.digest) throw new PocError<RelayerErrorCode>('RELAYER_DIGEST_MISMATCH', `the sidechain signs for another L1 deployment (digest ${view.digest}, this L1/Checkpoints gives ${digest})`);
    const l1SetId = Number(await this.cps.getFunction('validatorSetId')());
    const cpSetId = view.setId ?? l1SetId; // a node from before hand-overs signs with the genesis set only
    const plan = handoversBefore(l1SetId, cpSetId);
    if (plan === 'stale') return { kind: 'stale-set', height, setId: cpSetId, l1SetId };
    const handovers: HandoverLanded[] = [];
    for (const id of plan) {
      const r = await this.relayHandover(id);
      if ('kind' in r) return { ...r, height, handovers };
      handovers.push(r);
    }
    const q = await this.quorum(digest, view.signatures);
    if (!q) return { kind: 'no-quorum', height, signedPower: view.signedPower, totalPower: view.totalPower };
    await this.waitNoPending();
    if (Number(await this.cps.getFunction('latestHeight')()) >= height) return { kind: 'up-to-date', height, l1Height: Number(await this.cps.getFunction('latestHeight')()) };
    try {
      await this.cps.getFunction('submitCheckpoint').staticCall(cp, ...q.args);
    } catch (e) {
      if (this.isHeightNotIncreasing(e)) return { kind: 'lost-race', height };
      throw e;
    }
    const tx = await this.cps.getFunction('submitCheckpoint').send(cp, ...q.args);
    this.log.info({ height, tx: tx.hash, signers: q.signers, scheme: this.scheme }, 'checkpoint submitted');
    await this.o.afterSend?.(tx.hash, height);
    const receipt = await tx.wait().catch((e: any) => e.receipt ?? Promise.reject(e));
    if (!receipt || receipt.status !== 1) {
      this.log.warn({ height, tx: tx.hash }, 'checkpoint tx reverted (another relayer was first)');
      return { kind: 'lost-race', height };
    }
    return { kind: 'submitted', height, txHash: tx.hash, gasUsed: receipt.gasUsed, signers: q.signers, handovers };
  }

  /** The hand-over to set `setId` from every source, its digest checked here, signatures merged. */
  async collectHandover(setId: number): Promise<HandoverView | null> {
    await this.init();
    const domain = await this.getDomain();
    const views = (await Promise.all(this.o.sources.map((u) => rpcCall(u, 'pocchain_handover', [setId]).catch(() => null)))) as (HandoverView | null)[];
    let best: HandoverView | null = null;
    const sigs = new Map<string, ServedSignature>();
    for (const v of views) {
      if (!v || v.setId !== setId) continue;
      let digest: string;
      if (this.scheme === 'bls') {
        // the digest and the calldata both come from the keys and powers, in the contract's order
        const next = orderBlsSet(v.validators.map((k, i) => ({ publicKey: getBytes(k), power: BigInt(v.powers[i]!) })));
        digest = blsValidatorSetDigest(domain, BigInt(setId), next);
        v.validators = next.members.map((m) => hexlify(m.publicKey));
        v.powers = next.powers.map(String);
        v.publicKeys = next.publicKeys;
      } else {
        digest = validatorSetDigest(domain, { setId: BigInt(setId), validators: v.validators, powers: v.powers.map(BigInt) });
      }
      if (digest !== v.digest) throw new PocError<RelayerErrorCode>('RELAYER_DIGEST_MISMATCH', `a source's hand-over ${setId} is signed for another L1 deployment or set (digest ${v.digest}, recomputed ${digest})`);
      best ??= v;
      if (v.digest === best.digest) for (const s of v.signatures) sigs.set(`${s.signer}:${s.signature}`, s);
    }
    return best && { ...best, signatures: [...sigs.values()] };
  }

  /** Land hand-over `setId` (L1 must hold set setId − 1), or say why it cannot be yet. */
  private async relayHandover(setId: number): Promise<HandoverLanded | { kind: 'handover-pending'; setId: number; reason: 'unknown' | 'no-quorum'; signedPower?: string; totalPower?: string }> {
    const v = await this.collectHandover(setId);
    if (!v) return { kind: 'handover-pending', setId, reason: 'unknown' };
    const q = await this.quorum(v.digest, v.signatures);
    if (!q) return { kind: 'handover-pending', setId, reason: 'no-quorum', signedPower: v.signedPower, totalPower: v.totalPower };
    await this.waitNoPending();
    const landed = async () => Number(await this.cps.getFunction('validatorSetId')()) >= setId;
    if (await landed()) return { setId, txHash: null, gasUsed: 0n, signers: 0 };
    const args = [this.scheme === 'bls' ? v.publicKeys! : v.validators, v.powers.map(BigInt), ...q.args];
    await this.cps.getFunction('updateValidatorSet').staticCall(...args);
    const tx = await this.cps.getFunction('updateValidatorSet').send(...args);
    this.log.info({ setId, tx: tx.hash, validators: v.validators.length, signers: q.signers, scheme: this.scheme }, 'validator set hand-over submitted');
    const receipt = await tx.wait().catch((e: any) => e.receipt ?? Promise.reject(e));
    if (!receipt || receipt.status !== 1) {
      if (await landed()) return { setId, txHash: null, gasUsed: 0n, signers: 0 };
      throw new Error(`hand-over ${setId} reverted on L1 (tx ${tx.hash})`);
    }
    return { setId, txHash: tx.hash, gasUsed: receipt.gasUsed, signers: q.signers };
  }

  private isHeightNotIncreasing(e: any): boolean {
    const data: string | undefined = e?.data ?? e?.info?.error?.data;
    if (e?.revert?.name === 'HeightNotIncreasing') return true;
    try {
      return !!data && this.cps.interface.parseError(data)?.name === 'HeightNotIncreasing';
    } catch {
      return false;
    }
  }

  /** Wait until none of this relayer's transactions are pending on L1. */
  private async waitNoPending(): Promise<void> {
    const me = await this.o.signer.getAddress();
    for (let i = 0; ; i++) {
      const [latest, pending] = await Promise.all([this.o.l1.getTransactionCount(me, 'latest'), this.o.l1.getTransactionCount(me, 'pending')]);
      if (pending <= latest) return;
      if (i % 20 === 0) this.log.info({ pending: pending - latest }, 'waiting for our pending L1 transactions before submitting');
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Relay until `signal` aborts; errors are logged and retried. */
  async run(pollMs: number, signal: AbortSignal, onOutcome?: (o: RelayOutcome) => void): Promise<void> {
    while (!signal.aborted) {
      try {
        const out = await this.runOnce();
        onOutcome?.(out);
        if (out.kind === 'no-quorum') this.log.debug({ height: out.height, signed: out.signedPower, total: out.totalPower }, 'waiting for signatures');
        if (out.kind === 'handover-pending') this.log.debug({ height: out.height, setId: out.setId, reason: out.reason, signed: out.signedPower, total: out.totalPower }, 'waiting for a hand-over');
        if (out.kind === 'stale-set') this.log.debug({ height: out.height, setId: out.setId, l1SetId: out.l1SetId }, 'latest checkpoint signed by a set L1 moved past; waiting for the next');
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'relay attempt failed');
      }
      await new Promise((r) => {
        const t = setTimeout(r, pollMs);
        signal.addEventListener('abort', () => (clearTimeout(t), r(undefined)), { once: true });
      });
    }
  }
}
