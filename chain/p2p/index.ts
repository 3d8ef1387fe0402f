/**
 * chain/p2p — the libp2p 3 transport of a pocchain node.
 *
 * Design: transport only, message-agnostic (bytes in, bytes out). The chain and consensus layers
 * decide what bytes mean; this layer guarantees:
 * - identity: an Ed25519 key on disk (0600), so the peer id survives restarts;
 * - connectivity: bootstrap peers (multiaddr with /p2p/<id>) are kept connected and redialled
 *   with exponential backoff, so a restarted peer comes back without operator action;
 * - gossip: gossipsub, unsigned at the libp2p level (StrictNoSign: payloads carry their own
 *   signatures), message id = sha256(topic ‖ 0 ‖ data) so duplicates are dropped, a hard size
 *   limit per topic checked before the handler, and async validation: only messages the handler
 *   accepts are forwarded; rejected or oversized ones penalise the forwarding peer;
 * - request/response: one length-prefixed frame each way per stream, size limits both ways,
 *   timeouts, malformed frames penalised (used for block sync in batches);
 * - misbehaviour: penalties decay; past a threshold the peer is banned (hang-up + connection
 *   gater) for a period. blockPeer()/unblockPeer() use the same gater to cut partitions in tests.
 */
export { P2PNode, parseBootstrapAddr } from './node.ts';
export type {
  P2PConfig,
  P2PNodeOptions,
  P2PNodeEvents,
  P2PStats,
  GossipHandler,
  GossipVerdict,
  RequestHandler,
  RequestOptions,
  SubscribeOptions,
  HandleOptions,
  MeshParams,
} from './node.ts';
export { chainTopics, protocolId, topicKind, gossipLimitFor, DEFAULT_GOSSIP_LIMITS } from './topics.ts';
export type { ChainTopics, TopicKind } from './topics.ts';
export { p2pError } from './errors.ts';
export type { P2PErrorCode, P2PError } from './errors.ts';
export { loadOrCreateIdentity } from './identity.ts';
export { PenaltyBook, DEFAULT_PENALTY_PARAMS } from './peer-score.ts';
export type { PenaltyReason, PenaltyParams, PenaltyOutcome } from './peer-score.ts';
