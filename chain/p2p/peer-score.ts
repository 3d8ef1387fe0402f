/**
 * Misbehaviour accounting, separate from gossipsub's own mesh scoring: every fault a peer commits
 * anywhere in the p2p layer (invalid or oversized gossip, malformed request/response frames) adds a
 * weighted penalty; penalties decay exponentially; crossing the threshold bans the peer for a while.
 * Pure: time is passed in, no timers, no I/O. The node turns a ban into a hang-up plus a gater entry.
 */

export type PenaltyReason =
  | 'invalid-gossip'
  | 'oversized-gossip'
  | 'bad-request'
  | 'oversized-request'
  | 'bad-response'
  | 'oversized-response'
  | 'protocol-violation'
  /** claimed to have something (a sync head) and did not serve it */
  | 'false-claim'
  | 'manual';

export interface PenaltyParams {
  /** Score at or above which the peer is banned. */
  banThreshold: number;
  /** Penalties halve every this many ms, so a rare honest mistake is forgotten. */
  halfLifeMs: number;
  /** How long a ban lasts. */
  banDurationMs: number;
  /** Penalty added per reason. */
  weights: Record<PenaltyReason, number>;
}

export const DEFAULT_PENALTY_PARAMS: PenaltyParams = {
  banThreshold: 100,
  halfLifeMs: 5 * 60_000,
  banDurationMs: 10 * 60_000,
  weights: {
    // a gossip message the application judged invalid: 5 of them ban
    'invalid-gossip': 20,
    // over the hard size limit: no honest node publishes such a message
    'oversized-gossip': 50,
    'bad-request': 20,
    'oversized-request': 50,
    'bad-response': 20,
    'false-claim': 25,
    'oversized-response': 50,
    // a frame that cannot even be decoded
    'protocol-violation': 50,
    manual: 20,
  },
};

interface Entry {
  score: number;
  atMs: number;
  bannedUntilMs: number;
}

/** Result of recording one penalty. */
export interface PenaltyOutcome {
  score: number;
  banned: boolean;
  /** True only for the penalty that started the ban: the caller hangs up once. */
  newlyBanned: boolean;
}

/** Score decayed from `atMs` to `nowMs` with the given half-life. */
export function decayScore(score: number, atMs: number, nowMs: number, halfLifeMs: number): number {
  const dt = Math.max(0, nowMs - atMs);
  return score * Math.pow(0.5, dt / halfLifeMs);
}

/** Per-peer penalty scores and bans. */
export class PenaltyBook {
  readonly params: PenaltyParams;
  readonly #entries = new Map<string, Entry>();

  constructor(params: Partial<PenaltyParams> = {}) {
    this.params = { ...DEFAULT_PENALTY_PARAMS, ...params, weights: { ...DEFAULT_PENALTY_PARAMS.weights, ...params.weights } };
  }

  /** Record one fault; `weight` overrides the reason's default weight. */
  penalize(peer: string, reason: PenaltyReason, nowMs: number, weight?: number): PenaltyOutcome {
    const e = this.#entries.get(peer) ?? { score: 0, atMs: nowMs, bannedUntilMs: 0 };
    const wasBanned = e.bannedUntilMs > nowMs;
    e.score = decayScore(e.score, e.atMs, nowMs, this.params.halfLifeMs) + (weight ?? this.params.weights[reason]);
    e.atMs = nowMs;
    let newlyBanned = false;
    if (!wasBanned && e.score >= this.params.banThreshold) {
      e.bannedUntilMs = nowMs + this.params.banDurationMs;
      // serve the ban with a clean slate: after it, the peer starts from zero
      e.score = 0;
      newlyBanned = true;
    }
    this.#entries.set(peer, e);
    return { score: e.score, banned: wasBanned || newlyBanned, newlyBanned };
  }

  /** True while the peer is banned. */
  isBanned(peer: string, nowMs: number): boolean {
    const e = this.#entries.get(peer);
    return e !== undefined && e.bannedUntilMs > nowMs;
  }

  /** When the peer's ban ends (ms epoch), or undefined when not banned. */
  bannedUntil(peer: string, nowMs: number): number | undefined {
    const e = this.#entries.get(peer);
    return e !== undefined && e.bannedUntilMs > nowMs ? e.bannedUntilMs : undefined;
  }

  /** The peer's current (decayed) penalty score. */
  score(peer: string, nowMs: number): number {
    const e = this.#entries.get(peer);
    return e === undefined ? 0 : decayScore(e.score, e.atMs, nowMs, this.params.halfLifeMs);
  }

  /** Lift a ban and forget the peer's score. */
  unban(peer: string): void {
    this.#entries.delete(peer);
  }

  /** Peers banned at `nowMs`. */
  banned(nowMs: number): string[] {
    return [...this.#entries].filter(([, e]) => e.bannedUntilMs > nowMs).map(([p]) => p);
  }

  /** Drop entries whose ban is over and whose score has decayed to nothing (bounded memory). */
  prune(nowMs: number): void {
    for (const [peer, e] of this.#entries) {
      if (e.bannedUntilMs <= nowMs && decayScore(e.score, e.atMs, nowMs, this.params.halfLifeMs) < 0.5) this.#entries.delete(peer);
    }
  }

  get size(): number {
    return this.#entries.size;
  }
}
