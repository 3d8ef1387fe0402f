/**
 * Test kit: deterministic keys, signing helpers, and an in-process network of state machines
 * driven by a seeded discrete-event scheduler (random delays, reordering, drops, periodic
 * re-gossip, optional equivocating validators). Used by unit tests; also a reference for how a
 * driver wires the machine (sign own messages, feed them back, run timers, answer requests).
 */
import { createHash } from 'node:crypto';
import { ValidatorSet } from '../validators.ts';
import { decodeCommit, decodeMessage, encodeCommit, encodeMessage, packCanonical, proposalSignBytes, unpackRaw, voteSignBytes } from './codec.ts';
import { generateKeyPair, sign, type Ed25519KeyPair } from './crypto.ts';
import { createBftState, step, type BftInput, type BftOutput, type BftState, type TimeoutConfig } from './machine.ts';
import { checkSignRequest, EMPTY_SIGN_STATE, SIGN_STEP, type LastSignState } from './signer.ts';
import type { Commit, DuplicateVoteEvidence, Proposal, UnsignedProposal, UnsignedVote, Vote } from './types.ts';
import { verifyCommit } from './verify.ts';

/** Deterministic PRNG (mulberry32): uniform [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` deterministic key pairs (seed = sha256(label ‖ i)). */
export function testKeys(n: number, label = 'pocchain-test'): Ed25519KeyPair[] {
  return Array.from({ length: n }, (_, i) => generateKeyPair(new Uint8Array(createHash('sha256').update(`${label}/${i}`).digest())));
}

/** Keys plus a validator set; `keysByIndex[i]` is the key of validator index i. */
export function testValidators(powers: bigint[], label?: string): { set: ValidatorSet; keysByIndex: Ed25519KeyPair[] } {
  const keys = testKeys(powers.length, label);
  const set = ValidatorSet.create(keys.map((k, i) => ({ pubKey: k.publicKey, power: powers[i]! })));
  const keysByIndex = set.list().map((v) => keys.find((k) => Buffer.from(k.publicKey).equals(Buffer.from(v.pubKey)))!);
  return { set, keysByIndex };
}

/** Sign a vote directly with a key (no double-sign protection: tests and byzantine actors). */
export function signVoteWith(secretKey: Uint8Array, chainId: string, v: UnsignedVote): Vote {
  return { ...v, signature: sign(voteSignBytes(chainId, v), secretKey) };
}

/** Sign a proposal directly with a key (no double-sign protection). */
export function signProposalWith(secretKey: Uint8Array, chainId: string, p: UnsignedProposal): Proposal {
  return { ...p, signature: sign(proposalSignBytes(chainId, p), secretKey) };
}

/** A test block: canonical msgpack of its fields; hash = sha256(bytes). */
export function makeBlock(height: number, round: number, proposer: number, nonce: number, valid = true): { block: Uint8Array; blockHash: Uint8Array } {
  const block = packCanonical(['test-block', height, round, proposer, nonce, valid]);
  return { block, blockHash: blockHashOf(block) };
}

export function blockHashOf(block: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(block).digest());
}

/** Validity of a test block: bytes hash to the claimed hash and the block says it is valid. */
export function testBlockValidity(blockHash: Uint8Array, block: Uint8Array): 'valid' | 'invalid' | 'mismatch' {
  if (!Buffer.from(blockHashOf(block)).equals(Buffer.from(blockHash))) return 'mismatch';
  try {
    const a = unpackRaw(block) as unknown[];
    return Array.isArray(a) && a[0] === 'test-block' && a[5] === true ? 'valid' : 'invalid';
  } catch {
    return 'invalid';
  }
}

// ---- network simulation ----------------------------------------------------------------------

export interface SimOptions {
  seed: number;
  powers: bigint[];
  /** Heights every honest node must commit. */
  heights: number;
  /** Indices of validators that equivocate (double votes and double proposals). */
  byzantine?: number[];
  /** Probability a message is lost. */
  dropRate?: number;
  /** Max one-way delay (ms); delays are uniform in [1, maxDelay]. */
  maxDelayMs?: number;
  /** Re-gossip period of own messages (ms); models gossip's eventual delivery. */
  gossipMs?: number;
  timeouts?: Partial<TimeoutConfig>;
  /** Give up after this much simulated time. */
  maxTimeMs?: number;
  /** Probability a byzantine proposer proposes an invalid block. */
  invalidBlockRate?: number;
  /**
   * Honest validators whose own view is behind (no L1 access, a slow clock): the first validation
   * of every block answers this verdict; only a `decided` re-validation answers honestly.
   */
  lagging?: number[];
  laggingVerdict?: 'invalid' | 'cannot-judge';
  /** Honest validators that crash and restart (WAL replay into a fresh machine) at random times. */
  restarting?: number[];
  /** Mean time between restarts of a restarting node (ms). */
  restartEveryMs?: number;
}

export interface SimResult {
  /** decided[node][height] = block hash hex (honest nodes). */
  decided: Map<number, Map<number, string>>;
  commits: Map<number, Map<number, Commit>>;
  evidence: DuplicateVoteEvidence[];
  maxRound: number;
  timeMs: number;
  messages: number;
  /** Signer refusals (should be 0 for honest nodes). */
  signerRefusals: number;
  /** Restarts done (WAL replays). */
  restarts: number;
  set: ValidatorSet;
  /** Final machine states by node index (for diagnostics). */
  states: BftState[];
}

type Wire = { kind: 'msg'; bytes: Uint8Array } | { kind: 'sync'; commit: Uint8Array; block: Uint8Array };

interface SimNode {
  index: number;
  byzantine: boolean;
  state: BftState;
  signState: LastSignState;
  /** Own signed messages of the current height (re-gossiped). */
  sent: Uint8Array[];
  /** Decided blocks with their commits, by height (serves lagging peers, like block sync). */
  history: Map<number, { commit: Commit; block: Uint8Array; blockHash: Uint8Array }>;
  /** The WAL: inputs of the current height as a driver logs them (verdicts are not logged). */
  wal: BftInput[];
}

type Event =
  | { at: number; seq: number; kind: 'deliver'; to: number; wire: Wire }
  | { at: number; seq: number; kind: 'input'; to: number; input: BftInput }
  | { at: number; seq: number; kind: 'gossip' }
  | { at: number; seq: number; kind: 'restart'; to: number };

class Heap {
  private a: Event[] = [];
  push(e: Event): void {
    const a = this.a;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(a[p]!, a[i]!)) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): Event | undefined {
    const a = this.a;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
  get size(): number {
    return this.a.length;
  }
}

function less(x: Event, y: Event): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}

/** Run a simulated network until every honest node has committed `heights` blocks (or time runs out). */
export function simulate(opts: SimOptions): SimResult {
  const chainId = 'sim-chain';
  const rnd = prng(opts.seed);
  const { set: genesis, keysByIndex } = testValidators(opts.powers, `sim/${opts.seed}`);
  const n = genesis.size;
  const byz = new Set(opts.byzantine ?? []);
  const dropRate = opts.dropRate ?? 0;
  const maxDelay = opts.maxDelayMs ?? 50;
  const gossipMs = opts.gossipMs ?? 250;
  const maxTime = opts.maxTimeMs ?? 600_000;
  const timeouts: Partial<TimeoutConfig> = { proposeMs: 300, proposeDeltaMs: 100, prevoteMs: 100, prevoteDeltaMs: 50, precommitMs: 100, precommitDeltaMs: 50, ...opts.timeouts };
  const sets = new Map<number, ValidatorSet>([[1, genesis]]);
  const setAt = (h: number): ValidatorSet => {
    let s = sets.get(h);
    if (!s) {
      s = setAt(h - 1).nextHeight();
      sets.set(h, s);
    }
    return s;
  };

  const heap = new Heap();
  let seq = 0;
  let now = 0;
  let messages = 0;
  let signerRefusals = 0;
  let maxRound = 0;
  const evidence: DuplicateVoteEvidence[] = [];
  const byzPlans = new Map<string, { a: Uint8Array; b: Uint8Array }>();
  const decided = new Map<number, Map<number, string>>();
  const commits = new Map<number, Map<number, Commit>>();
  const nodes: SimNode[] = [];
  for (let i = 0; i < n; i++) {
    nodes.push({ index: i, byzantine: byz.has(i), state: createBftState({ chainId, timeouts }), signState: { ...EMPTY_SIGN_STATE }, sent: [], history: new Map(), wal: [] });
    if (!byz.has(i)) {
      decided.set(i, new Map());
      commits.set(i, new Map());
    }
  }

  type NewEvent = { kind: 'deliver'; to: number; wire: Wire } | { kind: 'input'; to: number; input: BftInput } | { kind: 'gossip' } | { kind: 'restart'; to: number };
  const lagging = new Set(opts.lagging ?? []);
  const restarting = new Set(opts.restarting ?? []);
  let restarts = 0;
  const at = (delay: number, e: NewEvent): void => heap.push({ ...e, at: now + delay, seq: seq++ } as Event);
  const send = (from: number, to: number, wire: Wire): void => {
    if (to === from) return;
    messages++;
    if (rnd() < dropRate) return;
    at(1 + Math.floor(rnd() * maxDelay), { kind: 'deliver', to, wire });
  };
  const broadcast = (from: number, wire: Wire, targets?: number[]): void => {
    for (const to of targets ?? nodes.map((x) => x.index)) send(from, to, wire);
  };

  /** Honest signing path: the same checks as PrivValidator, with in-memory state. */
  const signHonest = (node: SimNode, hrs: [number, number, number], bytes: Uint8Array): Uint8Array | null => {
    try {
      const verdict = checkSignRequest(node.signState, hrs[0], hrs[1], hrs[2], bytes);
      if (verdict !== 'sign') return verdict.reuse;
    } catch {
      signerRefusals++;
      return null;
    }
    const sig = sign(bytes, keysByIndex[node.index]!.secretKey);
    node.signState = { height: hrs[0], round: hrs[1], step: hrs[2], signBytes: Buffer.from(bytes).toString('hex'), signature: Buffer.from(sig).toString('hex') };
    return sig;
  };

  const feed = (node: SimNode, input: BftInput): void => {
    const queue: BftInput[] = [input];
    while (queue.length > 0) {
      const inp = queue.shift()!;
      if (inp.type === 'startHeight') node.wal = [];
      if (inp.type !== 'blockValidity') node.wal.push(inp);
      const r = step(node.state, inp);
      node.state = r.state;
      if (node.state.round > maxRound) maxRound = node.state.round;
      for (const o of r.outputs) handleOutput(node, o, queue);
    }
  };

  const halves = (self: number): [number[], number[]] => {
    const others = nodes.map((x) => x.index).filter((i) => i !== self);
    return [others.filter((_, k) => k % 2 === 0), others.filter((_, k) => k % 2 === 1)];
  };

  const handleOutput = (node: SimNode, o: BftOutput, queue: BftInput[]): void => {
    const key = keysByIndex[node.index]!.secretKey;
    switch (o.type) {
      case 'broadcastVote': {
        const v = o.vote;
        if (node.byzantine) {
          // Equivocate: a different value to each half of the network. In a round where it made
          // two proposals, it backs each half's proposal (the most damaging split); otherwise it
          // pairs its real vote with nil (or a random hash).
          const plan = byzPlans.get(`${v.height}:${v.round}`);
          const other: UnsignedVote = plan
            ? { ...v, blockHash: plan.b }
            : { ...v, blockHash: v.blockHash === null ? makeBlock(v.height, v.round, node.index, 999_999).blockHash : null };
          if (plan) v.blockHash = plan.a;
          const a = signVoteWith(key, chainId, v);
          const b = signVoteWith(key, chainId, other);
          const [h1, h2] = halves(node.index);
          broadcast(node.index, { kind: 'msg', bytes: encodeMessage({ kind: 'vote', vote: a }) }, h1);
          broadcast(node.index, { kind: 'msg', bytes: encodeMessage({ kind: 'vote', vote: b }) }, h2);
          queue.push({ type: 'vote', vote: a, verified: true });
          return;
        }
        const sig = signHonest(node, [v.height, v.round, SIGN_STEP[v.type]], voteSignBytes(chainId, v));
        if (!sig) return;
        const vote: Vote = { ...v, signature: sig };
        const bytes = encodeMessage({ kind: 'vote', vote });
        node.sent.push(bytes);
        broadcast(node.index, { kind: 'msg', bytes });
        queue.push({ type: 'vote', vote, verified: true });
        return;
      }
      case 'broadcastProposal': {
        const p = o.proposal;
        if (node.byzantine) {
          const alt = makeBlock(p.height, p.round, node.index, Math.floor(rnd() * 1e9), rnd() >= (opts.invalidBlockRate ?? 0));
          const a = signProposalWith(key, chainId, p);
          const b = signProposalWith(key, chainId, { ...p, polRound: -1, blockHash: alt.blockHash, block: alt.block });
          byzPlans.set(`${p.height}:${p.round}`, { a: p.blockHash, b: alt.blockHash });
          const [h1, h2] = halves(node.index);
          broadcast(node.index, { kind: 'msg', bytes: encodeMessage({ kind: 'proposal', proposal: a }) }, h1);
          broadcast(node.index, { kind: 'msg', bytes: encodeMessage({ kind: 'proposal', proposal: b }) }, h2);
          queue.push({ type: 'proposal', proposal: a, verified: true });
          return;
        }
        const sig = signHonest(node, [p.height, p.round, SIGN_STEP.propose], proposalSignBytes(chainId, p));
        if (!sig) return;
        const proposal: Proposal = { ...p, signature: sig };
        const bytes = encodeMessage({ kind: 'proposal', proposal });
        node.sent.push(bytes);
        broadcast(node.index, { kind: 'msg', bytes });
        queue.push({ type: 'proposal', proposal, verified: true });
        return;
      }
      case 'scheduleTimeout':
        at(o.durationMs, { kind: 'input', to: node.index, input: { type: 'timeout', kind: o.kind, height: o.height, round: o.round } });
        return;
      case 'buildBlock': {
        const b = makeBlock(o.height, o.round, node.index, Math.floor(rnd() * 1e9));
        at(1 + Math.floor(rnd() * 20), { kind: 'input', to: node.index, input: { type: 'ownBlock', height: o.height, round: o.round, ...b } });
        return;
      }
      case 'validateBlock': {
        const honest = testBlockValidity(o.blockHash, o.block);
        const result = lagging.has(node.index) && !o.decided && honest !== 'mismatch' ? (opts.laggingVerdict ?? 'invalid') : honest;
        at(1 + Math.floor(rnd() * 30), { kind: 'input', to: node.index, input: { type: 'blockValidity', height: o.height, blockHash: o.blockHash, result } });
        return;
      }
      case 'missingBlock':
        return; // re-gossip of decided blocks answers this
      case 'commit': {
        const set = setAt(o.height);
        verifyCommit(o.commit, set, chainId); // throws on a bad commit: the test fails loudly
        if (!node.byzantine) {
          const mine = decided.get(node.index)!;
          if (mine.has(o.height)) throw new Error(`node ${node.index} committed height ${o.height} twice`);
          mine.set(o.height, Buffer.from(o.blockHash).toString('hex'));
          commits.get(node.index)!.set(o.height, o.commit);
        }
        node.history.set(o.height, { commit: o.commit, block: o.block, blockHash: o.blockHash });
        node.sent = [];
        node.wal = []; // endHeight: a restart from here replays nothing of this height
        const myPubKey = keysByIndex[node.index]!.publicKey;
        at(5, { kind: 'input', to: node.index, input: { type: 'startHeight', height: o.height + 1, validators: setAt(o.height + 1), myPubKey } });
        return;
      }
      case 'evidence':
        evidence.push(o.evidence);
        return;
      case 'invalidMessage':
        return;
    }
  };

  const deliver = (node: SimNode, wire: Wire): void => {
    if (wire.kind === 'sync') {
      feed(node, { type: 'syncCommit', commit: decodeCommit(wire.commit), block: wire.block });
      return;
    }
    const m = decodeMessage(wire.bytes);
    if (m.kind === 'vote') feed(node, { type: 'vote', vote: m.vote });
    else feed(node, { type: 'proposal', proposal: m.proposal });
  };

  /** Crash and restart: a fresh machine replays the WAL of the unfinished height (as the driver does). */
  const restart = (node: SimNode): void => {
    restarts++;
    const log = node.wal;
    node.state = createBftState({ chainId, timeouts });
    node.wal = [];
    for (const input of log) feed(node, input);
  };
  const scheduleRestart = (i: number): void => at(1 + Math.floor(rnd() * 2 * (opts.restartEveryMs ?? 2000)), { kind: 'restart', to: i });

  for (const node of nodes) feed(node, { type: 'startHeight', height: 1, validators: genesis, myPubKey: keysByIndex[node.index]!.publicKey });
  for (const i of restarting) scheduleRestart(i);
  at(gossipMs, { kind: 'gossip' });

  const honest = nodes.filter((x) => !x.byzantine);
  const done = (): boolean => honest.every((x) => decided.get(x.index)!.size >= opts.heights);
  while (!done() && heap.size > 0) {
    const e = heap.pop()!;
    now = e.at;
    if (now > maxTime) break;
    if (e.kind === 'deliver') deliver(nodes[e.to]!, e.wire);
    else if (e.kind === 'input') feed(nodes[e.to]!, e.input);
    else if (e.kind === 'restart') {
      restart(nodes[e.to]!);
      scheduleRestart(e.to);
    } else {
      // Gossip: every node re-sends its own messages of the current height; a peer that is behind
      // gets the decided block and its commit votes for the peer's height (as block sync would).
      for (const node of nodes) {
        for (const bytes of node.sent) broadcast(node.index, { kind: 'msg', bytes });
        if (!node.byzantine) {
          // Relay the votes of others we hold for this height (CometBFT's vote gossip), so that
          // equivocations become visible to everyone.
          for (const rs of node.state.rounds.values()) {
            for (const vs of [rs.prevotes, rs.precommits]) {
              for (const list of [vs.votes, vs.conflicting]) {
                for (const vote of list) {
                  if (vote && vote.validatorIndex !== node.index) broadcast(node.index, { kind: 'msg', bytes: encodeMessage({ kind: 'vote', vote }) });
                }
              }
            }
          }
        }
        for (const peer of nodes) {
          if (peer === node) continue;
          const d = node.history.get(peer.state.height);
          if (!d) continue;
          send(node.index, peer.index, { kind: 'sync', commit: encodeCommit(d.commit), block: d.block });
        }
      }
      at(gossipMs, { kind: 'gossip' });
    }
  }
  return { decided, commits, evidence, maxRound, timeMs: now, messages, signerRefusals, restarts, set: genesis, states: nodes.map((x) => x.state) };
}
