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
 * Idempotent by construction: the contract accepts each height once and only increasing heights.
 * Before sending, the relayer waits until none of its own transactions are pending (a relayer
 * killed after sending and restarted does not send the same checkpoint again while the first is
 * in the mempool), re-reads L1's latest height, and simulates the call; a HeightNotIncreasing
 * revert (another relayer won the race) is logged and harmless.
 */
import { Contract, JsonRpcProvider, type Signer } from 'ethers';
import { silentLogger, type Logger } from '../lib/log.ts';
import { abiOf } from './abi.ts';
import type { CheckpointView, HandoverView } from './checkpoint-signer.ts';
import { checkpointDigest, selectQuorum, validatorSetDigest, type CheckpointDomain, type ValidatorSignature } from './checkpoint.ts';
import { handoversBefore } from './handover.ts';
import { PocError } from '../lib/errors.ts';

export type RelayerErrorCode = 'RELAYER_NO_SOURCE' | 'RELAYER_DIGEST_MISMATCH';

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
  private readonly cps: Contract;
  private domain?: CheckpointDomain;

  constructor(o: RelayerOptions) {
    this.o = o;
    this.log = (o.logger ?? silentLogger).child({ module: 'relayer' });
    this.cps = new Contract(o.checkpoints, abiOf('Checkpoints'), o.signer);
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
    const sigs = new Map(best.signatures.map((s) => [s.signer, s]));
    // other sources may hold more signatures for the same checkpoint
    await Promise.all(
      this.o.sources.map(async (u) => {
        const v = (await rpcCall(u, 'pocchain_checkpoint', [best.checkpoint.height]).catch(() => null)) as CheckpointView | null;
        if (v && v.digest === best.digest) for (const s of v.signatures) sigs.set(s.signer, s);
      }),
    );
    return { ...best, signatures: [...sigs.values()] };
  }

  /** One relay attempt. */
  async runOnce(): Promise<RelayOutcome> {
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
    const [validators, powers] = (await this.cps.getFunction('validators')()) as [string[], bigint[]];
    let q;
    try {
      q = selectQuorum(digest, view.signatures, { validators: [...validators], powers: [...powers] });
    } catch {
      return { kind: 'no-quorum', height, signedPower: view.signedPower, totalPower: view.totalPower };
    }
    await this.waitNoPending();
    if (Number(await this.cps.getFunction('latestHeight')()) >= height) return { kind: 'up-to-date', height, l1Height: Number(await this.cps.getFunction('latestHeight')()) };
    try {
      await this.cps.getFunction('submitCheckpoint').staticCall(cp, q.packed);
    } catch (e) {
      if (this.isHeightNotIncreasing(e)) return { kind: 'lost-race', height };
      throw e;
    }
    const tx = await this.cps.getFunction('submitCheckpoint').send(cp, q.packed);
    this.log.info({ height, tx: tx.hash, signers: q.signers.length }, 'checkpoint submitted');
    await this.o.afterSend?.(tx.hash, height);
    const receipt = await tx.wait().catch((e: any) => e.receipt ?? Promise.reject(e));
    if (!receipt || receipt.status !== 1) {
      this.log.warn({ height, tx: tx.hash }, 'checkpoint tx reverted (another relayer was first)');
      return { kind: 'lost-race', height };
    }
    return { kind: 'submitted', height, txHash: tx.hash, gasUsed: receipt.gasUsed, signers: q.signers.length, handovers };
  }

  /** The hand-over to set `setId` from every source, its digest checked here, signatures merged. */
  async collectHandover(setId: number): Promise<HandoverView | null> {
    const domain = await this.getDomain();
    const views = (await Promise.all(this.o.sources.map((u) => rpcCall(u, 'pocchain_handover', [setId]).catch(() => null)))) as (HandoverView | null)[];
    let best: HandoverView | null = null;
    const sigs = new Map<string, ValidatorSignature>();
    for (const v of views) {
      if (!v || v.setId !== setId) continue;
      const digest = validatorSetDigest(domain, { setId: BigInt(setId), validators: v.validators, powers: v.powers.map(BigInt) });
      if (digest !== v.digest) throw new PocError<RelayerErrorCode>('RELAYER_DIGEST_MISMATCH', `a source's hand-over ${setId} is signed for another L1 deployment or set (digest ${v.digest}, recomputed ${digest})`);
      best ??= v;
      if (v.digest === best.digest) for (const s of v.signatures) sigs.set(s.signer, s);
    }
    return best && { ...best, signatures: [...sigs.values()] };
  }

  /** Land hand-over `setId` (L1 must hold set setId − 1), or say why it cannot be yet. */
  private async relayHandover(setId: number): Promise<HandoverLanded | { kind: 'handover-pending'; setId: number; reason: 'unknown' | 'no-quorum'; signedPower?: string; totalPower?: string }> {
    const v = await this.collectHandover(setId);
    if (!v) return { kind: 'handover-pending', setId, reason: 'unknown' };
    const [validators, powers] = (await this.cps.getFunction('validators')()) as [string[], bigint[]];
    let q;
    try {
      q = selectQuorum(v.digest, v.signatures, { validators: [...validators], powers: [...powers] });
    } catch {
      return { kind: 'handover-pending', setId, reason: 'no-quorum', signedPower: v.signedPower, totalPower: v.totalPower };
    }
    await this.waitNoPending();
    const landed = async () => Number(await this.cps.getFunction('validatorSetId')()) >= setId;
    if (await landed()) return { setId, txHash: null, gasUsed: 0n, signers: 0 };
    const args = [v.validators, v.powers.map(BigInt), q.packed] as const;
    await this.cps.getFunction('updateValidatorSet').staticCall(...args);
    const tx = await this.cps.getFunction('updateValidatorSet').send(...args);
    this.log.info({ setId, tx: tx.hash, validators: v.validators.length, signers: q.signers.length }, 'validator set hand-over submitted');
    const receipt = await tx.wait().catch((e: any) => e.receipt ?? Promise.reject(e));
    if (!receipt || receipt.status !== 1) {
      if (await landed()) return { setId, txHash: null, gasUsed: 0n, signers: 0 };
      throw new Error(`hand-over ${setId} reverted on L1 (tx ${tx.hash})`);
    }
    return { setId, txHash: tx.hash, gasUsed: receipt.gasUsed, signers: q.signers.length };
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
