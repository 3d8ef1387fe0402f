/** Error codes of the chain layer. Each says what the caller can do about it. */
import { PocError } from '../lib/errors.ts';

export type ChainErrorCode =
  | 'GENESIS_INVALID' // fix the genesis file
  | 'GENESIS_MISMATCH' // the data dir holds another chain: use another --datadir or the right genesis
  | 'DB_CORRUPT' // the database lost an invariant: restore from a peer or backup
  | 'BLOCK_INVALID' // a peer or proposer sent a bad block: reject it
  | 'TX_INVALID'; // the transaction cannot be accepted (message says why, geth-compatible)

export class ChainError extends PocError<ChainErrorCode> {}
