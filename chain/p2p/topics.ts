/**
 * Names of gossip topics and request/response protocols, and their default size limits. Pure.
 * Every name carries the chain id so that nodes of two chains sharing a host never mix messages.
 */

/** The gossip topics of one chain. */
export interface ChainTopics {
  tx: string;
  consensus: string;
  checkpoint: string;
}

export type TopicKind = keyof ChainTopics;

/** Gossip topic names for a chain: `pocchain/<chainId>/{tx,consensus,checkpoint}`. */
export function chainTopics(chainId: string | number | bigint): ChainTopics {
  const base = `pocchain/${String(chainId)}`;
  return { tx: `${base}/tx`, consensus: `${base}/consensus`, checkpoint: `${base}/checkpoint` };
}

/** The kind of a pocchain topic (`tx`, `consensus`, `checkpoint`), or undefined for another name. */
export function topicKind(topic: string): TopicKind | undefined {
  const m = /^pocchain\/[^/]+\/(tx|consensus|checkpoint)$/.exec(topic);
  return m === null ? undefined : (m[1] as TopicKind);
}

/** Request/response protocol id: `/pocchain/<chainId>/<name>/<version>`. */
export function protocolId(chainId: string | number | bigint, name: string, version = 1): string {
  if (!/^[a-z0-9_-]+$/i.test(name)) throw new RangeError(`bad protocol name ${name}`);
  return `/pocchain/${String(chainId)}/${name}/${version}`;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Default hard size limit of one gossip message, per topic kind. A consensus message carries a
 * whole proposed block; a tx message is a batch of signed transactions; a checkpoint is a header plus signatures.
 */
export const DEFAULT_GOSSIP_LIMITS: Readonly<Record<TopicKind, number>> = {
  // a batch of transactions (consensus/tx-gossip.ts); consensus/limits.ts checks these at start
  tx: 256 * KiB,
  consensus: 2 * MiB,
  checkpoint: 256 * KiB,
};

/** Limit for topics that are not one of the chain's kinds. */
export const DEFAULT_OTHER_TOPIC_LIMIT = 128 * KiB;

/** Size limit for a topic given per-kind limits. */
export function gossipLimitFor(topic: string, limits: Readonly<Record<TopicKind, number>> = DEFAULT_GOSSIP_LIMITS): number {
  const kind = topicKind(topic);
  return kind === undefined ? DEFAULT_OTHER_TOPIC_LIMIT : limits[kind];
}
