/**
 * Checkpoints in the node: every `epochLength` blocks each validator signs (height, block hash,
 * state root, withdrawals root) with its secp256k1 key, gossips the signature on the chain's
 * checkpoint topic, and collects the others'. Nodes serve what they collected over RPC; a relayer
 * takes it to L1 when more than 2/3 of the power has signed.
 *
 * The withdrawals root is Bridge.root() at the height, read from the Bridge's storage words
 * (bridge/merkle.ts rootFromBranch) — no EVM call. A node only serves signatures over the
 * checkpoint it computed itself; a validator's signature over other contents is refused (and
 * penalised by gossip). Signatures live in memory; each validator re-gossips its latest one
 * periodically, so a node that restarted or missed a message catches up.
 */
import { getAddress, hexlify, type Wallet } from 'ethers';
import { Packr } from 'msgpackr';
import type { Chain } from '../chain/chain.ts';
import type { P2PNode } from '../chain/p2p/index.ts';
import { chainTopics } from '../chain/p2p/topics.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { checkpointDigest, hasQuorum, recoverSigner, signDigest, type Checkpoint, type CheckpointDomain, type ValidatorSignature } from './checkpoint.ts';
import { readBridgeState } from './deposits-hook.ts';

const packr = new Packr({ useRecords: false, useBigIntExtension: true });
/** heights kept in memory */
const KEEP_EPOCHS = 64;

/** A checkpoint with the signatures collected for it, as served over RPC. */
export interface CheckpointView {
  checkpoint: { height: number; blockHash: string; stateRoot: string; withdrawalsRoot: string };
  digest: string;
  signatures: ValidatorSignature[];
  signedPower: string;
  totalPower: string;
  quorum: boolean;
}

export interface SignerMember {
  address: string;
  power: bigint;
}

/** The checkpoint of committed block `height` (withdrawals root from the Bridge's storage). */
export async function computeCheckpoint(chain: Chain, height: number): Promise<Checkpoint | undefined> {
  const block = await chain.getBlockByNumber(BigInt(height));
  if (!block) return undefined;
  const sm = await chain.stateAt(block.header.stateRoot);
  const st = await readBridgeState(sm);
  return { height: BigInt(height), blockHash: hexlify(block.hash()), stateRoot: hexlify(block.header.stateRoot), withdrawalsRoot: st.withdrawalsRoot };
}

/** Encode a gossiped signature: the checkpoint, the 65-byte signature and a sequence number. */
export function encodeCheckpointMessage(cp: Checkpoint, signature: string, seq: number): Uint8Array {
  const b = (h: string) => Buffer.from(h.slice(2), 'hex');
  return packr.pack([Number(cp.height), b(cp.blockHash), b(cp.stateRoot), b(cp.withdrawalsRoot), b(signature), seq]);
}

/** Decode a gossiped signature; throws on anything malformed. */
export function decodeCheckpointMessage(data: Uint8Array): { cp: Checkpoint; signature: string } {
  const v = packr.unpack(data) as unknown;
  const is32 = (x: unknown) => x instanceof Uint8Array && x.length === 32;
  if (!Array.isArray(v) || v.length !== 6 || !Number.isSafeInteger(v[0]) || v[0] < 1 || !is32(v[1]) || !is32(v[2]) || !is32(v[3]) || !(v[4] instanceof Uint8Array) || v[4].length !== 65) {
    throw new Error('malformed checkpoint message');
  }
  return { cp: { height: BigInt(v[0]), blockHash: hexlify(v[1]), stateRoot: hexlify(v[2]), withdrawalsRoot: hexlify(v[3]) }, signature: hexlify(v[4]) };
}

export interface CheckpointServiceOptions {
  chain: Chain;
  p2p: P2PNode;
  domain: CheckpointDomain;
  members: SignerMember[];
  epochLength: number;
  /** this validator's secp256k1 key (never logged), or null for a node that only collects */
  key: Wallet | null;
  rebroadcastMs?: number;
  logger?: Logger;
}

export class CheckpointService {
  private readonly o: CheckpointServiceOptions;
  private readonly log: Logger;
  private readonly power = new Map<string, bigint>();
  private readonly total: bigint;
  private readonly topic: string;
  /** height → our own checkpoint and its digest */
  private readonly own = new Map<number, { cp: Checkpoint; digest: string }>();
  /** digest → signer → signature */
  private readonly sigs = new Map<string, Map<string, string>>();
  private lastSigned = 0;
  private timer?: NodeJS.Timeout;
  private unsub?: () => void;
  private onBlock?: (e: { block: { header: { number: bigint } } }) => void;
  private queue: Promise<void> = Promise.resolve();

  constructor(o: CheckpointServiceOptions) {
    this.o = o;
    this.log = (o.logger ?? silentLogger).child({ module: 'checkpoints' });
    let t = 0n;
    for (const m of o.members) {
      this.power.set(getAddress(m.address), m.power);
      t += m.power;
    }
    this.total = t;
    this.topic = chainTopics(o.chain.chainId).checkpoint;
  }

  async start(): Promise<void> {
    const { chain, p2p, epochLength } = this.o;
    this.unsub = p2p.subscribe(this.topic, (d, from) => this.onGossip(d, from));
    this.onBlock = (e) => {
      const n = Number(e.block.header.number);
      if (n % epochLength === 0) this.enqueue(() => this.signHeight(n));
    };
    chain.on('block', this.onBlock as any);
    const head = Number(chain.head.header.number);
    const latest = head - (head % epochLength);
    if (latest > 0) this.enqueue(() => this.signHeight(latest));
    this.timer = setInterval(() => this.enqueue(() => this.rebroadcast()), this.o.rebroadcastMs ?? 5000);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.unsub?.();
    if (this.onBlock) this.o.chain.off('block', this.onBlock as any);
    await this.queue;
  }

  private enqueue(fn: () => Promise<void>): void {
    this.queue = this.queue.then(fn).catch((e) => this.log.warn({ err: (e as Error).message }, 'checkpoint task failed'));
  }

  /** Our checkpoint at `height` (computed once), if the chain has it. */
  private async ownAt(height: number): Promise<{ cp: Checkpoint; digest: string } | undefined> {
    let c = this.own.get(height);
    if (c) return c;
    if (height % this.o.epochLength !== 0 || height > Number(this.o.chain.head.header.number)) return undefined;
    const cp = await computeCheckpoint(this.o.chain, height);
    if (!cp) return undefined;
    c = { cp, digest: checkpointDigest(this.o.domain, cp) };
    this.own.set(height, c);
    this.prune(height);
    return c;
  }

  private prune(latest: number): void {
    const floor = latest - KEEP_EPOCHS * this.o.epochLength;
    for (const [h, c] of this.own) {
      if (h < floor) {
        this.own.delete(h);
        this.sigs.delete(c.digest);
      }
    }
  }

  private async signHeight(height: number): Promise<void> {
    const c = await this.ownAt(height);
    if (!c) return;
    if (this.o.key && this.power.has(this.o.key.address) && height > this.lastSigned) {
      const s = signDigest(this.o.key.signingKey, c.digest);
      this.addSig(c.digest, s.signer, s.signature);
      this.lastSigned = height;
      this.log.info({ height, withdrawalsRoot: c.cp.withdrawalsRoot }, 'checkpoint signed');
      await this.publish(c.cp, s.signature);
    }
  }

  private async rebroadcast(): Promise<void> {
    if (!this.o.key || this.lastSigned === 0) return;
    const c = this.own.get(this.lastSigned);
    const sig = c && this.sigs.get(c.digest)?.get(this.o.key.address);
    if (c && sig) await this.publish(c.cp, sig);
  }

  private async publish(cp: Checkpoint, signature: string): Promise<void> {
    try {
      await this.o.p2p.publish(this.topic, encodeCheckpointMessage(cp, signature, Date.now()));
    } catch (e) {
      this.log.debug({ err: (e as Error).message }, 'checkpoint gossip failed');
    }
  }

  private addSig(digest: string, signer: string, signature: string): boolean {
    let m = this.sigs.get(digest);
    if (!m) this.sigs.set(digest, (m = new Map()));
    if (m.has(signer)) return false;
    m.set(signer, signature);
    return true;
  }

  /** Gossip validation: only validators' valid signatures over the checkpoint this node computed. */
  private async onGossip(data: Uint8Array, _from: string): Promise<'accept' | 'ignore' | 'reject'> {
    let msg;
    try {
      msg = decodeCheckpointMessage(data);
    } catch {
      return 'reject';
    }
    const height = Number(msg.cp.height);
    if (height % this.o.epochLength !== 0) return 'reject';
    const digest = checkpointDigest(this.o.domain, msg.cp);
    let signer: string;
    try {
      signer = recoverSigner(digest, msg.signature);
    } catch {
      return 'reject';
    }
    if (!this.power.has(signer)) return 'reject';
    const head = Number(this.o.chain.head.header.number);
    if (height > head) return 'ignore'; // we cannot judge it yet; its re-broadcast will come again
    if (height < head - KEEP_EPOCHS * this.o.epochLength) return 'ignore';
    const own = await this.ownAt(height);
    if (!own) return 'ignore';
    if (own.digest !== digest) {
      this.log.warn({ height, signer }, 'validator signed a checkpoint that differs from ours');
      return 'reject';
    }
    return this.addSig(digest, signer, msg.signature) ? 'accept' : 'ignore';
  }

  /** The checkpoint at `height` with the signatures collected for it, or null. */
  async view(height: number): Promise<CheckpointView | null> {
    const c = await this.ownAt(height);
    if (!c) return null;
    const m = this.sigs.get(c.digest) ?? new Map<string, string>();
    let signed = 0n;
    const signatures: ValidatorSignature[] = [];
    for (const [signer, signature] of m) {
      signed += this.power.get(signer) ?? 0n;
      signatures.push({ signer, signature });
    }
    return {
      checkpoint: { height, blockHash: c.cp.blockHash, stateRoot: c.cp.stateRoot, withdrawalsRoot: c.cp.withdrawalsRoot },
      digest: c.digest,
      signatures,
      signedPower: signed.toString(),
      totalPower: this.total.toString(),
      quorum: hasQuorum(signed, this.total),
    };
  }

  /** The latest checkpoint with a quorum of signatures (else the latest epoch height), or null. */
  async latest(): Promise<CheckpointView | null> {
    const head = Number(this.o.chain.head.header.number);
    const top = head - (head % this.o.epochLength);
    let first: CheckpointView | null = null;
    for (let h = top; h > 0 && h > top - KEEP_EPOCHS * this.o.epochLength; h -= this.o.epochLength) {
      if (!this.own.has(h) && h !== top) continue;
      const v = await this.view(h);
      if (!v) continue;
      if (v.quorum) return v;
      first ??= v;
    }
    return first;
  }
}
