/**
 * Checkpoints in the node: every `epochLength` blocks each validator signs (height, block hash,
 * state root, withdrawals root), gossips the signature on the chain's checkpoint topic, and
 * collects the others'. Nodes serve what they collected over RPC; a relayer takes it to L1 when
 * more than 2/3 of the power has signed.
 *
 * Two schemes, fixed by genesis `bridge.checkpointScheme` (the contract deployed on L1):
 * - 'ecdsa' (Checkpoints.sol): the validator's secp256k1 key signs; a member is its operator
 *   address; the signer of a gossiped signature is recovered from it.
 * - 'bls' (CheckpointsBls.sol): the validator's BLS12-381 key (the RANDAO key derived from its
 *   consensus key, lib/keys.ts randaoKey) signs the same EIP-712 digest, domain bound to the BLS
 *   contract; a member is its BLS key; a gossiped signature names its signer by position in the
 *   set as the contract orders it (bridge/handover.ts orderBlsL1Set) and is verified on its own
 *   (blst) before it is kept, so the relayer's aggregate of what nodes serve verifies. The keys'
 *   proofs of possession were checked where they entered the set (genesis, the epoch step).
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
 * penalised by gossip). Checkpoint signatures live in memory; each validator re-gossips its latest
 * one periodically, so a node that restarted or missed a message catches up. Hand-over signatures
 * are also saved in the node's LevelDB (chain meta `bridge/handover/<setId>`): a hand-over is
 * signed once, when its boundary commits, and a restarted node must still serve it.
 */
import { getBytes, hexlify, type Wallet } from 'ethers';
import { Packr } from 'msgpackr';
import type { Chain } from '../chain/chain.ts';
import type { P2PNode } from '../chain/p2p/index.ts';
import { chainTopics } from '../chain/p2p/topics.ts';
import { blsSign, blsVerify, type BlsKey } from '../lib/bls.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { checkpointDigest, hasQuorum, recoverSigner, signDigest, validatorSetDigest, type Checkpoint, type CheckpointDomain, type ValidatorSet, type ValidatorSignature } from './checkpoint.ts';
import { blsValidatorSetDigest, orderBlsSet } from './checkpoint-bls.ts';
import { readBridgeState } from './deposits-hook.ts';
import { BLS_VIEW, ECDSA_VIEW, HandoverLog, totalPower, type Handover, type L1Set, type L1SetView, type SetReader } from './handover.ts';
import type { CheckpointScheme } from './l1-checkpoints.ts';

const packr = new Packr({ useRecords: false, useBigIntExtension: true });
/** heights kept in memory */
const KEEP_EPOCHS = 64;
/** hand-overs whose own signature a node re-gossips (the newest ones) */
const REBROADCAST_HANDOVERS = 4;
/** chain meta key prefix of saved hand-over signatures */
const HANDOVER_META = 'bridge/handover/';

/** A signature as served over RPC; `position` (BLS) is the signer's place in the contract's order. */
export type ServedSignature = ValidatorSignature & { position?: number };

/** A checkpoint with the signatures collected for it, as served over RPC. */
export interface CheckpointView {
  checkpoint: { height: number; blockHash: string; stateRoot: string; withdrawalsRoot: string };
  digest: string;
  /** `signer`: the operator address (ecdsa) or the compressed BLS key, 0x-hex (bls) */
  signatures: ServedSignature[];
  signedPower: string;
  totalPower: string;
  quorum: boolean;
  /** id (as L1 Checkpoints counts them) of the validator set that signs this checkpoint */
  setId: number;
  scheme?: CheckpointScheme;
}

/** A hand-over with the outgoing set's signatures collected for it, as served over RPC. */
export interface HandoverView {
  /** the id L1 gives the incoming set (= L1's current id + 1 when this is the next to land) */
  setId: number;
  /** the block that closed the outgoing set's last epoch */
  boundary: number;
  /** the incoming set in the contract's order: addresses (ecdsa) or compressed BLS keys (bls) */
  validators: string[];
  powers: string[];
  /** bls: the incoming keys as updateValidatorSet takes them (EIP-2537, concatenated) */
  publicKeys?: string;
  digest: string;
  signatures: ServedSignature[];
  /** power of the outgoing set that signed, of its total */
  signedPower: string;
  totalPower: string;
  quorum: boolean;
  scheme?: CheckpointScheme;
}

/** The checkpoint of committed block `height` (withdrawals root from the Bridge's storage). */
export async function computeCheckpoint(chain: Chain, height: number): Promise<Checkpoint | undefined> {
  const block = await chain.getBlockByNumber(BigInt(height));
  if (!block) return undefined;
  const sm = await chain.stateAt(block.header.stateRoot);
  const st = await readBridgeState(sm);
  return { height: BigInt(height), blockHash: hexlify(block.hash()), stateRoot: hexlify(block.header.stateRoot), withdrawalsRoot: st.withdrawalsRoot };
}

const b = (h: string) => Buffer.from(h.slice(2), 'hex');

/** Encode a gossiped ECDSA signature: the checkpoint, the 65-byte signature and a sequence number. */
export function encodeCheckpointMessage(cp: Checkpoint, signature: string, seq: number): Uint8Array {
  return packr.pack([Number(cp.height), b(cp.blockHash), b(cp.stateRoot), b(cp.withdrawalsRoot), b(signature), seq]);
}

/** Encode a gossiped ECDSA hand-over signature: the boundary block, the incoming set's id, the signature, a sequence number. */
export function encodeHandoverMessage(boundary: number, setId: number, signature: string, seq: number): Uint8Array {
  return packr.pack(['handover', boundary, setId, b(signature), seq]);
}

/** Encode a gossiped BLS checkpoint signature: the checkpoint, the signer's position, the 96-byte signature, a sequence number. */
export function encodeBlsCheckpointMessage(cp: Checkpoint, position: number, signature: string, seq: number): Uint8Array {
  return packr.pack(['bls', Number(cp.height), b(cp.blockHash), b(cp.stateRoot), b(cp.withdrawalsRoot), position, b(signature), seq]);
}

/** Encode a gossiped BLS hand-over signature: boundary, incoming set id, signer's position in the outgoing set, signature, sequence number. */
export function encodeBlsHandoverMessage(boundary: number, setId: number, position: number, signature: string, seq: number): Uint8Array {
  return packr.pack(['bls-handover', boundary, setId, position, b(signature), seq]);
}

/** A decoded gossip message of the checkpoint topic (`position` only in BLS messages). */
export type CheckpointGossip =
  | { kind: 'checkpoint'; scheme: CheckpointScheme; cp: Checkpoint; position?: number; signature: string }
  | { kind: 'handover'; scheme: CheckpointScheme; boundary: number; setId: number; position?: number; signature: string };

const is32 = (x: unknown) => x instanceof Uint8Array && x.length === 32;
const isSig = (x: unknown, n: number) => x instanceof Uint8Array && x.length === n;
const isPos = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0 && (x as number) < 256;
const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 1;

/** Decode any checkpoint-topic message; throws on anything malformed. */
export function decodeCheckpointGossip(data: Uint8Array): CheckpointGossip {
  const v = packr.unpack(data) as unknown;
  if (!Array.isArray(v)) throw new Error('malformed checkpoint message');
  if (v[0] === 'handover' && v.length === 5 && isCount(v[1]) && isCount(v[2]) && isSig(v[3], 65)) return { kind: 'handover', scheme: 'ecdsa', boundary: v[1], setId: v[2], signature: hexlify(v[3]) };
  if (v[0] === 'bls-handover' && v.length === 6 && isCount(v[1]) && isCount(v[2]) && isPos(v[3]) && isSig(v[4], 96)) return { kind: 'handover', scheme: 'bls', boundary: v[1], setId: v[2], position: v[3], signature: hexlify(v[4]) };
  if (v[0] === 'bls' && v.length === 8 && isCount(v[1]) && is32(v[2]) && is32(v[3]) && is32(v[4]) && isPos(v[5]) && isSig(v[6], 96)) {
    return { kind: 'checkpoint', scheme: 'bls', cp: { height: BigInt(v[1]), blockHash: hexlify(v[2]), stateRoot: hexlify(v[3]), withdrawalsRoot: hexlify(v[4]) }, position: v[5], signature: hexlify(v[6]) };
  }
  if (v.length === 6 && isCount(v[0]) && is32(v[1]) && is32(v[2]) && is32(v[3]) && isSig(v[4], 65)) {
    return { kind: 'checkpoint', scheme: 'ecdsa', cp: { height: BigInt(v[0]), blockHash: hexlify(v[1]), stateRoot: hexlify(v[2]), withdrawalsRoot: hexlify(v[3]) }, signature: hexlify(v[4]) };
  }
  throw new Error('malformed checkpoint message');
}

/** Decode a gossiped ECDSA hand-over signature; throws on anything malformed. */
export function decodeHandoverMessage(data: Uint8Array): { boundary: number; setId: number; signature: string } {
  const m = decodeCheckpointGossip(data);
  if (m.kind !== 'handover' || m.scheme !== 'ecdsa') throw new Error('malformed hand-over message');
  return { boundary: m.boundary, setId: m.setId, signature: m.signature };
}

/** Decode a gossiped ECDSA signature; throws on anything malformed. */
export function decodeCheckpointMessage(data: Uint8Array): { cp: Checkpoint; signature: string } {
  const m = decodeCheckpointGossip(data);
  if (m.kind !== 'checkpoint' || m.scheme !== 'ecdsa') throw new Error('malformed checkpoint message');
  return { cp: m.cp, signature: m.signature };
}

/**
 * What differs between the schemes: how a set looks on L1, the hand-over digest, this node's
 * identity and signature, and the check of someone else's.
 */
export interface CheckpointSigning {
  scheme: CheckpointScheme;
  view: L1SetView;
  handoverDigest(domain: CheckpointDomain, to: ValidatorSet): string;
  /** this node's identity in a set (operator address / BLS key), null for a node that only collects */
  me: string | null;
  sign(digest: string): string;
  /** true when `signature` is `identity`'s over `digest` */
  verify(identity: string, digest: string, signature: string): boolean;
}

/** secp256k1 signing for Checkpoints.sol. */
export function ecdsaSigning(key: Wallet | null): CheckpointSigning {
  return {
    scheme: 'ecdsa',
    view: ECDSA_VIEW,
    handoverDigest: (d, to) => validatorSetDigest(d, to),
    me: key?.address ?? null,
    sign: (digest) => signDigest(key!.signingKey, digest).signature,
    verify: (identity, digest, signature) => {
      try {
        return recoverSigner(digest, signature) === identity;
      } catch {
        return false;
      }
    },
  };
}

/** BLS signing for CheckpointsBls.sol with the validator's BLS key. */
export function blsSigning(key: BlsKey | null): CheckpointSigning {
  return {
    scheme: 'bls',
    view: BLS_VIEW,
    handoverDigest: (d, to) => blsValidatorSetDigest(d, to.setId, orderBlsSet(to.validators.map((k, i) => ({ publicKey: getBytes(k), power: to.powers[i]! })))),
    me: key ? hexlify(key.publicKey) : null,
    sign: (digest) => hexlify(blsSign(key!.secretKey, getBytes(digest))),
    verify: (identity, digest, signature) => blsVerify(getBytes(identity), getBytes(digest), getBytes(signature)),
  };
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
  /** the scheme and this validator's key (never logged); its `me` null for a node that only collects */
  signing: CheckpointSigning;
  rebroadcastMs?: number;
  logger?: Logger;
}

/** Our checkpoint at a height: its digest, the set that signs it and that set in the contract's order. */
interface OwnCheckpoint {
  cp: Checkpoint;
  digest: string;
  set: L1Set;
  order: string[];
  setId: number;
}

export class CheckpointService {
  private readonly o: CheckpointServiceOptions;
  private readonly sg: CheckpointSigning;
  private readonly log: Logger;
  private readonly topic: string;
  private readonly handovers: HandoverLog;
  /** height → our own checkpoint */
  private readonly own = new Map<number, OwnCheckpoint>();
  /** digest → signer → signature */
  private readonly sigs = new Map<string, Map<string, string>>();
  /** hand-over set id → its digest, the outgoing set's order and signer → signature */
  private readonly hsigs = new Map<number, { digest: string; order: string[]; sigs: Map<string, string> }>();
  private lastSigned = 0;
  private timer?: NodeJS.Timeout;
  private unsub?: () => void;
  private onBlock?: (e: { block: { header: { number: bigint } } }) => void;
  private queue: Promise<void> = Promise.resolve();
  private saving: Promise<void> = Promise.resolve();
  /** the hand-overs walked and their saved signatures loaded (served views wait for it) */
  private loaded: Promise<void> = Promise.resolve();

  constructor(o: CheckpointServiceOptions) {
    this.o = o;
    this.sg = o.signing;
    this.log = (o.logger ?? silentLogger).child({ module: 'checkpoints' });
    this.handovers = new HandoverLog(o.setAt, o.setEpochLength, o.signing.view);
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
    // every hand-over so far: its set id, the signatures saved before a restart, and ours when we
    // were in the outgoing set
    this.loaded = this.enqueue(async () => {
      await this.handovers.walkTo(head);
      for (const h of this.handovers.all()) {
        await this.loadHandover(h);
        await this.signHandover(h);
      }
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
    await this.saving;
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(fn).catch((e) => this.log.warn({ err: (e as Error).message }, 'checkpoint task failed'));
    return this.queue;
  }

  /** Our checkpoint at `height` (computed once), if the chain has it. */
  private async ownAt(height: number): Promise<OwnCheckpoint | undefined> {
    let c = this.own.get(height);
    if (c) return c;
    if (height % this.o.epochLength !== 0 || height > Number(this.o.chain.head.header.number)) return undefined;
    const cp = await computeCheckpoint(this.o.chain, height);
    if (!cp) return undefined;
    await this.handovers.walkTo(height);
    const set = this.sg.view.of(await this.o.setAt(height));
    c = { cp, digest: checkpointDigest(this.o.domain, cp), set, order: this.sg.view.order(0n, set).validators, setId: this.handovers.setIdAt(height) };
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
    const me = this.sg.me;
    if (me && c.set.has(me) && height > this.lastSigned) {
      const signature = this.sg.sign(c.digest);
      this.addSig(c.digest, me, signature);
      this.lastSigned = height;
      this.log.info({ height, withdrawalsRoot: c.cp.withdrawalsRoot, scheme: this.sg.scheme }, 'checkpoint signed');
      await this.publish(c, signature);
    }
  }

  /** After boundary block `b` committed: the hand-over there, if the set changed, signed when we were in the outgoing set. */
  private async handoverAt(b: number): Promise<void> {
    await this.handovers.walkTo(b);
    const h = this.handovers.atBoundary(b);
    if (h) await this.signHandover(h);
  }

  private handoverEntry(h: Handover): { digest: string; order: string[]; sigs: Map<string, string> } {
    const id = Number(h.to.setId);
    let e = this.hsigs.get(id);
    if (!e) this.hsigs.set(id, (e = { digest: this.sg.handoverDigest(this.o.domain, h.to), order: this.sg.view.order(0n, h.from).validators, sigs: new Map() }));
    return e;
  }

  /** Load the hand-over signatures saved before a restart (only those over the digest this node computes). */
  private async loadHandover(h: Handover): Promise<void> {
    const raw = await this.o.chain.store.loadMeta(HANDOVER_META + Number(h.to.setId));
    if (!raw) return;
    const e = this.handoverEntry(h);
    let saved: { digest: string; sigs: [string, string][] };
    try {
      saved = packr.unpack(raw) as typeof saved;
    } catch {
      return;
    }
    if (saved?.digest !== e.digest || !Array.isArray(saved.sigs)) return;
    for (const [signer, signature] of saved.sigs) if (h.from.has(signer) && !e.sigs.has(signer)) e.sigs.set(signer, signature);
  }

  /** Save hand-over `setId`'s signatures (serialised: each save writes everything known then). */
  private saveHandover(setId: number): Promise<void> {
    this.saving = this.saving
      .then(async () => {
        const e = this.hsigs.get(setId);
        if (e) await this.o.chain.store.saveMeta(HANDOVER_META + setId, packr.pack({ digest: e.digest, sigs: [...e.sigs] }));
      })
      .catch((err) => this.log.warn({ err: (err as Error).message, setId }, 'cannot save hand-over signatures'));
    return this.saving;
  }

  private async signHandover(h: Handover): Promise<void> {
    const e = this.handoverEntry(h);
    const me = this.sg.me;
    if (!me || !h.from.has(me) || e.sigs.has(me)) return;
    const signature = this.sg.sign(e.digest);
    e.sigs.set(me, signature);
    await this.saveHandover(Number(h.to.setId));
    this.log.info({ setId: Number(h.to.setId), boundary: h.boundary, validators: h.to.validators.length, scheme: this.sg.scheme }, 'validator set hand-over signed');
    await this.publishHandover(h, signature);
  }

  private async rebroadcast(): Promise<void> {
    const me = this.sg.me;
    if (!me) return;
    for (const h of this.handovers.all().slice(-REBROADCAST_HANDOVERS)) {
      const sig = this.hsigs.get(Number(h.to.setId))?.sigs.get(me);
      if (sig) await this.publishHandover(h, sig);
    }
    if (this.lastSigned === 0) return;
    const c = this.own.get(this.lastSigned);
    const sig = c && this.sigs.get(c.digest)?.get(me);
    if (c && sig) await this.publish(c, sig);
  }

  private async publish(c: OwnCheckpoint, signature: string): Promise<void> {
    const seq = Date.now();
    await this.send(this.sg.scheme === 'bls' ? encodeBlsCheckpointMessage(c.cp, c.order.indexOf(this.sg.me!), signature, seq) : encodeCheckpointMessage(c.cp, signature, seq));
  }

  private async publishHandover(h: Handover, signature: string): Promise<void> {
    const seq = Date.now();
    const id = Number(h.to.setId);
    await this.send(this.sg.scheme === 'bls' ? encodeBlsHandoverMessage(h.boundary, id, this.handoverEntry(h).order.indexOf(this.sg.me!), signature, seq) : encodeHandoverMessage(h.boundary, id, signature, seq));
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

  /**
   * The signer a message names (BLS: by its position in `order`) or recovers to (ECDSA), when
   * `signature` is valid over `digest`; null otherwise.
   */
  private signerOf(msg: { position?: number; signature: string }, order: string[], digest: string): string | null {
    if (this.sg.scheme === 'bls') {
      const who = order[msg.position!];
      return who !== undefined && this.sg.verify(who, digest, msg.signature) ? who : null;
    }
    try {
      return recoverSigner(digest, msg.signature);
    } catch {
      return null;
    }
  }

  /** Gossip validation: only valid signatures of the signing set over what this node computed itself. */
  private async onGossip(data: Uint8Array, _from: string): Promise<'accept' | 'ignore' | 'reject'> {
    let msg: CheckpointGossip;
    try {
      msg = decodeCheckpointGossip(data);
    } catch {
      return 'reject';
    }
    if (msg.scheme !== this.sg.scheme) return 'reject'; // a node signing for the other contract
    if (msg.kind === 'handover') return this.onHandoverGossip(msg);
    const height = Number(msg.cp.height);
    if (height % this.o.epochLength !== 0) return 'reject';
    const digest = checkpointDigest(this.o.domain, msg.cp);
    const head = Number(this.o.chain.head.header.number);
    if (height > head) return 'ignore'; // we cannot judge it yet; its re-broadcast will come again
    if (height < head - KEEP_EPOCHS * this.o.epochLength) return 'ignore';
    const own = await this.ownAt(height);
    if (!own) return 'ignore';
    if (own.digest !== digest) {
      this.log.warn({ height, position: msg.position }, 'validator signed a checkpoint that differs from ours');
      return 'reject';
    }
    const signer = this.signerOf(msg, own.order, digest);
    if (signer === null || !own.set.has(signer)) return 'reject';
    return this.addSig(digest, signer, msg.signature) ? 'accept' : 'ignore';
  }

  /** A hand-over signature: by a member of the outgoing set, over the hand-over this node computed at that boundary. */
  private async onHandoverGossip(msg: { boundary: number; setId: number; position?: number; signature: string }): Promise<'accept' | 'ignore' | 'reject'> {
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
    const signer = this.signerOf(msg, e.order, e.digest);
    if (signer === null || !h.from.has(signer)) return 'reject'; // not the outgoing set, or a signature over other contents
    if (e.sigs.has(signer)) return 'ignore';
    e.sigs.set(signer, msg.signature);
    void this.saveHandover(msg.setId);
    return 'accept';
  }

  private served(m: Map<string, string>, set: L1Set, order: string[]): { signatures: ServedSignature[]; signed: bigint } {
    let signed = 0n;
    const signatures: ServedSignature[] = [];
    for (const [signer, signature] of m) {
      signed += set.get(signer) ?? 0n;
      signatures.push(this.sg.scheme === 'bls' ? { signer, signature, position: order.indexOf(signer) } : { signer, signature });
    }
    return { signatures, signed };
  }

  /** The hand-over to set `setId` with the signatures collected for it, or null (no such change yet). */
  async handover(setId: number): Promise<HandoverView | null> {
    await this.loaded;
    await this.handovers.walkTo(Number(this.o.chain.head.header.number));
    const h = this.handovers.byId(setId);
    if (!h) return null;
    const e = this.handoverEntry(h);
    const { signatures, signed } = this.served(e.sigs, h.from, e.order);
    const total = totalPower(h.from);
    const publicKeys = this.sg.scheme === 'bls' ? { publicKeys: orderBlsSet(h.to.validators.map((k, i) => ({ publicKey: getBytes(k), power: h.to.powers[i]! }))).publicKeys } : {};
    return {
      setId,
      boundary: h.boundary,
      validators: h.to.validators,
      powers: h.to.powers.map(String),
      ...publicKeys,
      digest: e.digest,
      signatures,
      signedPower: signed.toString(),
      totalPower: total.toString(),
      quorum: hasQuorum(signed, total),
      scheme: this.sg.scheme,
    };
  }

  /** The checkpoint at `height` with the signatures collected for it, or null. */
  async view(height: number): Promise<CheckpointView | null> {
    const c = await this.ownAt(height);
    if (!c) return null;
    const { signatures, signed } = this.served(this.sigs.get(c.digest) ?? new Map<string, string>(), c.set, c.order);
    const total = totalPower(c.set);
    return {
      checkpoint: { height, blockHash: c.cp.blockHash, stateRoot: c.cp.stateRoot, withdrawalsRoot: c.cp.withdrawalsRoot },
      digest: c.digest,
      signatures,
      signedPower: signed.toString(),
      totalPower: total.toString(),
      quorum: hasQuorum(signed, total),
      setId: c.setId,
      scheme: this.sg.scheme,
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
