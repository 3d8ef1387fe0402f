/**
 * Checkpoints in the node: every `epochLength` blocks each validator signs (height, block hash,
 * state root, withdrawals root) with its secp256k1 key, gossips the signature on the chain's
 * checkpoint topic, and collects the others'. Nodes serve what they collected over RPC; a relayer
 * takes it to L1 when more than 2/3 of the power has signed.
 *
 * The set that signs the checkpoint of height h is the validator set of h (the genesis set on a
 * fixed-set chain), as L1 sees it (bridge/handover.ts: operators and powers). When the set changes
 * at an epoch boundary b, every member of the outgoing set (the set of b) signs the hand-over
 * ValidatorSet(setId, validators, powers) of the incoming one, gossiped on the same topic and
 * served by pocchain_handover(setId); the relayer lands hand-overs on L1 in order before a
 * checkpoint signed by a newer set. Hand-over signatures are kept for the node's run (one per set
 * change and signer); each node re-gossips its own for the latest few.
 *
 * The withdrawals root is Bridge.root() at the height, read from the Bridge's storage words
 * (bridge/merkle.ts rootFromBranch) — no EVM call. A node only serves signatures over the
 * checkpoint it computed itself; a validator's signature over other contents is refused (and
 * penalised by gossip). Signatures live in memory; each validator re-gossips its latest one
 * periodically, so a node that restarted or missed a message catches up.
 */
import { hexlify, type Wallet } from 'ethers';
import { Packr } from 'msgpackr';
import type { Chain } from '../chain/chain.ts';
import type { P2PNode } from '../chain/p2p/index.ts';
import { chainTopics } from '../chain/p2p/topics.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { checkpointDigest, hasQuorum, recoverSigner, signDigest, validatorSetDigest, type Checkpoint, type CheckpointDomain, type ValidatorSignature } from './checkpoint.ts';
import { readBridgeState } from './deposits-hook.ts';
import { HandoverLog, l1Set, totalPower, type Handover, type L1Set, type SetReader } from './handover.ts';

const packr = new Packr({ useRecords: false, useBigIntExtension: true });
/** heights kept in memory */
const KEEP_EPOCHS = 64;
/** hand-overs whose own signature a node re-gossips (the newest ones) */
const REBROADCAST_HANDOVERS = 4;

/** A checkpoint with the signatures collected for it, as served over RPC. */
export interface CheckpointView {
  checkpoint: { height: number; blockHash: string; stateRoot: string; withdrawalsRoot: string };
  digest: string;
  signatures: ValidatorSignature[];
  signedPower: string;
  totalPower: string;
  quorum: boolean;
  /** id (as L1 Checkpoints counts them) of the validator set that signs this checkpoint */
  setId: number;
}

/** A hand-over with the outgoing set's signatures collected for it, as served over RPC. */
export interface HandoverView {
  /** the id L1 gives the incoming set (= L1's current id + 1 when this is the next to land) */
  setId: number;
  /** the block that closed the outgoing set's last epoch */
  boundary: number;
  /** the incoming set, ascending by address */
  validators: string[];
  powers: string[];
  digest: string;
  signatures: ValidatorSignature[];
  /** power of the outgoing set that signed, of its total */
  signedPower: string;
  totalPower: string;
  quorum: boolean;
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

/** Encode a gossiped hand-over signature: the boundary block, the incoming set's id, the signature, a sequence number. */
export function encodeHandoverMessage(boundary: number, setId: number, signature: string, seq: number): Uint8Array {
  return packr.pack(['handover', boundary, setId, Buffer.from(signature.slice(2), 'hex'), seq]);
}

/** Decode a gossiped hand-over signature; throws on anything malformed. */
export function decodeHandoverMessage(data: Uint8Array): { boundary: number; setId: number; signature: string } {
  const v = packr.unpack(data) as unknown;
  if (!Array.isArray(v) || v.length !== 5 || v[0] !== 'handover' || !Number.isSafeInteger(v[1]) || v[1] < 1 || !Number.isSafeInteger(v[2]) || v[2] < 1 || !(v[3] instanceof Uint8Array) || v[3].length !== 65) {
    throw new Error('malformed hand-over message');
  }
  return { boundary: v[1], setId: v[2], signature: hexlify(v[3]) };
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
  /** the validator set of a height (PluginContext.validatorSetAt) */
  setAt: SetReader;
  /** blocks per validator epoch, null when the set is fixed */
  setEpochLength: number | null;
  /** blocks between checkpoints */
  epochLength: number;
  /** this validator's secp256k1 key (never logged), or null for a node that only collects */
  key: Wallet | null;
  rebroadcastMs?: number;
  logger?: Logger;
}

export class CheckpointService {
  private readonly o: CheckpointServiceOptions;
  private readonly log: Logger;
  private readonly topic: string;
  private readonly handovers: HandoverLog;
  /** height → our own checkpoint, its digest and the set that signs it */
  private readonly own = new Map<number, { cp: Checkpoint; digest: string; set: L1Set; setId: number }>();
  /** digest → signer → signature */
  private readonly sigs = new Map<string, Map<string, string>>();
  /** hand-over set id → its digest and signer → signature */
  private readonly hsigs = new Map<number, { digest: string; sigs: Map<string, string> }>();
  private lastSigned = 0;
  private timer?: NodeJS.Timeout;
  private unsub?: () => void;
  private onBlock?: (e: { block: { header: { number: bigint } } }) => void;
  private queue: Promise<void> = Promise.resolve();

  constructor(o: CheckpointServiceOptions) {
    this.o = o;
    this.log = (o.logger ?? silentLogger).child({ module: 'checkpoints' });
    this.handovers = new HandoverLog(o.setAt, o.setEpochLength);
    this.topic = chainTopics(o.chain.chainId).checkpoint;
  }

  async start(): Promise<void> {
    const { chain, p2p, epochLength } = this.o;
    this.unsub = p2p.subscribe(this.topic, (d, from) => this.onGossip(d, from));
    const setEpoch = this.o.setEpochLength;
    this.onBlock = (e) => {
      const n = Number(e.block.header.number);
      if (setEpoch !== null && n % setEpoch === 0) this.enqueue(() => this.handoverAt(n));
      if (n % epochLength === 0) this.enqueue(() => this.signHeight(n));
    };
    chain.on('block', this.onBlock as any);
    const head = Number(chain.head.header.number);
    // every hand-over so far: its set id, and our signature when we were in the outgoing set
    this.enqueue(async () => {
      await this.handovers.walkTo(head);
      for (const h of this.handovers.all()) await this.signHandover(h);
    });
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
  private async ownAt(height: number): Promise<{ cp: Checkpoint; digest: string; set: L1Set; setId: number } | undefined> {
    let c = this.own.get(height);
    if (c) return c;
    if (height % this.o.epochLength !== 0 || height > Number(this.o.chain.head.header.number)) return undefined;
    const cp = await computeCheckpoint(this.o.chain, height);
    if (!cp) return undefined;
    await this.handovers.walkTo(height);
    c = { cp, digest: checkpointDigest(this.o.domain, cp), set: l1Set(await this.o.setAt(height)), setId: this.handovers.setIdAt(height) };
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
    if (this.o.key && c.set.has(this.o.key.address) && height > this.lastSigned) {
      const s = signDigest(this.o.key.signingKey, c.digest);
      this.addSig(c.digest, s.signer, s.signature);
      this.lastSigned = height;
      this.log.info({ height, withdrawalsRoot: c.cp.withdrawalsRoot }, 'checkpoint signed');
      await this.publish(c.cp, s.signature);
    }
  }

  /** After boundary block `b` committed: the hand-over there, if the set changed, signed when we were in the outgoing set. */
  private async handoverAt(b: number): Promise<void> {
    await this.handovers.walkTo(b);
    const h = this.handovers.atBoundary(b);
    if (h) await this.signHandover(h);
  }

  private handoverEntry(h: Handover): { digest: string; sigs: Map<string, string> } {
    const id = Number(h.to.setId);
    let e = this.hsigs.get(id);
    if (!e) this.hsigs.set(id, (e = { digest: validatorSetDigest(this.o.domain, h.to), sigs: new Map() }));
    return e;
  }

  private async signHandover(h: Handover): Promise<void> {
    const e = this.handoverEntry(h);
    const key = this.o.key;
    if (!key || !h.from.has(key.address) || e.sigs.has(key.address)) return;
    const s = signDigest(key.signingKey, e.digest);
    e.sigs.set(s.signer, s.signature);
    this.log.info({ setId: Number(h.to.setId), boundary: h.boundary, validators: h.to.validators.length }, 'validator set hand-over signed');
    await this.publishHandover(h, s.signature);
  }

  private async rebroadcast(): Promise<void> {
    if (!this.o.key) return;
    for (const h of this.handovers.all().slice(-REBROADCAST_HANDOVERS)) {
      const sig = this.hsigs.get(Number(h.to.setId))?.sigs.get(this.o.key.address);
      if (sig) await this.publishHandover(h, sig);
    }
    if (this.lastSigned === 0) return;
    const c = this.own.get(this.lastSigned);
    const sig = c && this.sigs.get(c.digest)?.get(this.o.key.address);
    if (c && sig) await this.publish(c.cp, sig);
  }

  private async publish(cp: Checkpoint, signature: string): Promise<void> {
    await this.send(encodeCheckpointMessage(cp, signature, Date.now()));
  }

  private async publishHandover(h: Handover, signature: string): Promise<void> {
    await this.send(encodeHandoverMessage(h.boundary, Number(h.to.setId), signature, Date.now()));
  }

  private async send(msg: Uint8Array): Promise<void> {
    try {
      await this.o.p2p.publish(this.topic, msg);
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

  /** Gossip validation: only valid signatures of the signing set over what this node computed itself. */
  private async onGossip(data: Uint8Array, _from: string): Promise<'accept' | 'ignore' | 'reject'> {
    let msg;
    try {
      msg = decodeCheckpointMessage(data);
    } catch {
      try {
        return await this.onHandoverGossip(decodeHandoverMessage(data));
      } catch {
        return 'reject';
      }
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
    const head = Number(this.o.chain.head.header.number);
    if (height > head) return 'ignore'; // we cannot judge it yet; its re-broadcast will come again
    if (height < head - KEEP_EPOCHS * this.o.epochLength) return 'ignore';
    const own = await this.ownAt(height);
    if (!own) return 'ignore';
    if (!own.set.has(signer)) return 'reject';
    if (own.digest !== digest) {
      this.log.warn({ height, signer }, 'validator signed a checkpoint that differs from ours');
      return 'reject';
    }
    return this.addSig(digest, signer, msg.signature) ? 'accept' : 'ignore';
  }

  /** A hand-over signature: by a member of the outgoing set, over the hand-over this node computed at that boundary. */
  private async onHandoverGossip(msg: { boundary: number; setId: number; signature: string }): Promise<'accept' | 'ignore' | 'reject'> {
    const L = this.o.setEpochLength;
    if (L === null || msg.boundary % L !== 0) return 'reject';
    if (msg.boundary > Number(this.o.chain.head.header.number)) return 'ignore'; // not judged yet; it comes again
    try {
      await this.handovers.walkTo(msg.boundary);
    } catch (e) {
      this.log.warn({ err: (e as Error).message, boundary: msg.boundary }, 'cannot read the validator sets to judge a hand-over signature');
      return 'ignore';
    }
    const h = this.handovers.atBoundary(msg.boundary);
    if (!h || Number(h.to.setId) !== msg.setId) {
      this.log.warn({ boundary: msg.boundary, setId: msg.setId, ours: h ? Number(h.to.setId) : null }, 'hand-over signature for a change this node does not see');
      return 'reject';
    }
    const e = this.handoverEntry(h);
    const signer = recoverSigner(e.digest, msg.signature);
    if (!h.from.has(signer)) return 'reject'; // not the outgoing set, or a signature over other contents
    if (e.sigs.has(signer)) return 'ignore';
    e.sigs.set(signer, msg.signature);
    return 'accept';
  }

  /** The hand-over to set `setId` with the signatures collected for it, or null (no such change yet). */
  async handover(setId: number): Promise<HandoverView | null> {
    await this.handovers.walkTo(Number(this.o.chain.head.header.number));
    const h = this.handovers.byId(setId);
    if (!h) return null;
    const e = this.handoverEntry(h);
    let signed = 0n;
    const signatures: ValidatorSignature[] = [];
    for (const [signer, signature] of e.sigs) {
      signed += h.from.get(signer) ?? 0n;
      signatures.push({ signer, signature });
    }
    const total = totalPower(h.from);
    return {
      setId,
      boundary: h.boundary,
      validators: h.to.validators,
      powers: h.to.powers.map(String),
      digest: e.digest,
      signatures,
      signedPower: signed.toString(),
      totalPower: total.toString(),
      quorum: hasQuorum(signed, total),
    };
  }

  /** The checkpoint at `height` with the signatures collected for it, or null. */
  async view(height: number): Promise<CheckpointView | null> {
    const c = await this.ownAt(height);
    if (!c) return null;
    const m = this.sigs.get(c.digest) ?? new Map<string, string>();
    let signed = 0n;
    const signatures: ValidatorSignature[] = [];
    for (const [signer, signature] of m) {
      signed += c.set.get(signer) ?? 0n;
      signatures.push({ signer, signature });
    }
    const total = totalPower(c.set);
    return {
      checkpoint: { height, blockHash: c.cp.blockHash, stateRoot: c.cp.stateRoot, withdrawalsRoot: c.cp.withdrawalsRoot },
      digest: c.digest,
      signatures,
      signedPower: signed.toString(),
      totalPower: total.toString(),
      quorum: hasQuorum(signed, total),
      setId: c.setId,
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
