import { PocError } from '../../lib/errors.ts';

/**
 * Error codes of the p2p layer. Each says what the caller can do:
 * - P2P_NOT_STARTED / P2P_STOPPED: lifecycle misuse, a bug in the caller.
 * - P2P_MESSAGE_TOO_LARGE / P2P_REQUEST_TOO_LARGE: our own payload is over the limit; split it.
 * - P2P_TIMEOUT / P2P_DIAL_FAILED / P2P_STREAM_FAILED: transient; retry, possibly with another peer.
 * - P2P_PEER_DENIED: the peer is blocked or banned here; pick another peer.
 * - P2P_RESPONSE_TOO_LARGE / P2P_BAD_RESPONSE: the peer misbehaved (it was penalised); pick another.
 * - P2P_REMOTE_ERROR: the peer's handler failed; the message it sent is in `data.reason`.
 * - P2P_BAD_REQUEST: thrown by a request handler to say "this request is invalid": the requester
 *   is penalised and gets an error response.
 * - P2P_BAD_ADDRESS: a configured multiaddr is invalid or lacks /p2p/<peerId>; fix the config.
 * - P2P_LISTEN_FAILED: the listen address cannot be bound (port taken); pick another port.
 * - P2P_BAD_KEY_FILE: the identity file exists but cannot be read as a libp2p private key.
 */
export type P2PErrorCode =
  | 'P2P_NOT_STARTED'
  | 'P2P_STOPPED'
  | 'P2P_MESSAGE_TOO_LARGE'
  | 'P2P_REQUEST_TOO_LARGE'
  | 'P2P_TIMEOUT'
  | 'P2P_DIAL_FAILED'
  | 'P2P_STREAM_FAILED'
  | 'P2P_PEER_DENIED'
  | 'P2P_RESPONSE_TOO_LARGE'
  | 'P2P_BAD_RESPONSE'
  | 'P2P_REMOTE_ERROR'
  | 'P2P_BAD_REQUEST'
  | 'P2P_BAD_ADDRESS'
  | 'P2P_LISTEN_FAILED'
  | 'P2P_BAD_KEY_FILE';

export type P2PError = PocError<P2PErrorCode>;

/** Build a p2p error with a code from P2PErrorCode. */
export function p2pError(code: P2PErrorCode, message: string, opts: { data?: Record<string, unknown>; cause?: unknown } = {}): P2PError {
  return new PocError<P2PErrorCode>(code, message, opts);
}
