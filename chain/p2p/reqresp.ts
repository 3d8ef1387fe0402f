/**
 * Request/response wire format (pure). One stream carries one exchange:
 *   requester → responder: one varint-length-prefixed frame holding the request bytes, then
 *                          half-close;
 *   responder → requester: one varint-length-prefixed frame `status(1 byte) ‖ body`, then close.
 * status 0 = ok (body = response bytes), 1 = error (body = short UTF-8 reason).
 * The length prefix is checked against the reader's limit before any body byte is buffered.
 */
import type { ByteStream } from '@libp2p/utils';
import type { MessageStream } from '@libp2p/interface';
import { p2pError } from './errors.ts';

export const STATUS_OK = 0;
export const STATUS_ERROR = 1;
/** Longest error reason put on the wire. */
export const MAX_ERROR_REASON_BYTES = 256;

export type DecodedResponse = { ok: true; body: Uint8Array } | { ok: false; reason: string };

/** Encode a successful response body (without the length prefix). */
export function encodeOkResponse(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 1);
  out[0] = STATUS_OK;
  out.set(body, 1);
  return out;
}

/** Encode an error response (without the length prefix); the reason is truncated. */
export function encodeErrorResponse(reason: string): Uint8Array {
  const r = new TextEncoder().encode(reason).subarray(0, MAX_ERROR_REASON_BYTES);
  const out = new Uint8Array(r.length + 1);
  out[0] = STATUS_ERROR;
  out.set(r, 1);
  return out;
}

/** Decode a response frame; throws P2P_BAD_RESPONSE for an empty frame or an unknown status. */
export function decodeResponse(frame: Uint8Array): DecodedResponse {
  if (frame.length === 0) throw p2pError('P2P_BAD_RESPONSE', 'empty response frame');
  const status = frame[0];
  if (status === STATUS_OK) return { ok: true, body: frame.subarray(1) };
  if (status === STATUS_ERROR) {
    if (frame.length - 1 > MAX_ERROR_REASON_BYTES) throw p2pError('P2P_BAD_RESPONSE', 'error reason too long');
    return { ok: false, reason: new TextDecoder('utf-8', { fatal: false }).decode(frame.subarray(1)) };
  }
  throw p2pError('P2P_BAD_RESPONSE', 'unknown response status', { data: { status } });
}

/** Longest varint length prefix accepted: 5 bytes encode lengths up to 2^35, above any limit here. */
export const MAX_PREFIX_BYTES = 5;

/** Why a frame could not be read. */
export class FrameError extends Error {
  readonly kind: 'too-large' | 'malformed';
  constructor(kind: 'too-large' | 'malformed', message: string) {
    super(message);
    this.name = 'FrameError';
    this.kind = kind;
  }
}

/** Unsigned LEB128 varint encoding of a length. */
export function encodeLength(n: number): Uint8Array {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** A frame: varint length prefix followed by the body. */
export function encodeFrame(body: Uint8Array): Uint8Array {
  const prefix = encodeLength(body.length);
  const out = new Uint8Array(prefix.length + body.length);
  out.set(prefix, 0);
  out.set(body, prefix.length);
  return out;
}

/**
 * Read one frame whose body is at most `maxBytes`. The prefix is read byte by byte and bounded
 * (MAX_PREFIX_BYTES), so an endless or oversized prefix fails before any body byte is buffered.
 * Throws FrameError('too-large' | 'malformed'), or the stream's error (EOF, abort).
 */
export async function readFrame(bytes: ByteStream<MessageStream>, maxBytes: number, signal: AbortSignal): Promise<Uint8Array> {
  let length = 0;
  let mul = 1;
  for (let i = 0; ; i++) {
    if (i === MAX_PREFIX_BYTES) throw new FrameError('malformed', 'length prefix too long');
    const b = (await bytes.read({ bytes: 1, signal })).get(0);
    length += (b & 0x7f) * mul;
    mul *= 0x80;
    if ((b & 0x80) === 0) break;
  }
  if (length > maxBytes) throw new FrameError('too-large', `frame of ${length} bytes over the limit of ${maxBytes}`);
  if (length === 0) return new Uint8Array(0);
  return (await bytes.read({ bytes: length, signal })).subarray();
}

/** How a failed frame read should be treated. */
export type ReadFailure = 'too-large' | 'malformed' | 'eof' | 'aborted' | 'other';

/**
 * Classify an error thrown by @libp2p/utils lpStream.read: over the size limit, a malformed
 * length prefix, a premature end of stream, an abort (timeout or shutdown), or something else.
 */
export function classifyReadError(e: unknown): ReadFailure {
  if (e instanceof FrameError) return e.kind;
  const err = e as { name?: string; code?: string } | undefined;
  const name = err?.name ?? '';
  const code = err?.code ?? '';
  if (name === 'InvalidDataLengthError' || code === 'ERR_MSG_DATA_TOO_LONG') return 'too-large';
  if (name === 'StreamBufferError') return 'too-large';
  if (name === 'InvalidMessageLengthError' || name === 'InvalidDataLengthLengthError' || code === 'ERR_INVALID_MSG_LENGTH' || code === 'ERR_MSG_LENGTH_TOO_LONG') return 'malformed';
  if (name === 'UnexpectedEOFError') return 'eof';
  if (name === 'AbortError' || name === 'TimeoutError') return 'aborted';
  return 'other';
}
