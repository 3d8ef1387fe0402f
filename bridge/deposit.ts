/**
 * Decoding of the L1 Vault's Deposited logs into plain objects (pure: no provider, no I/O).
 * The L1 watcher feeds logs in; the sidechain credits each nonce once and in order, so
 * `orderDeposits` refuses gaps and conflicting duplicates instead of guessing.
 */
import { getAddress, Interface, type Log } from 'ethers';
import { PocError } from '../lib/errors.ts';

export type DepositErrorCode = 'DEPOSIT_BAD_LOG' | 'DEPOSIT_CONFLICT';

/** One lock on L1, to be minted as native coin to `recipient` on the sidechain. */
export interface Deposit {
  nonce: bigint;
  from: string;
  recipient: string;
  amount: bigint;
  /** L1 position, for confirmations and dedup; -1/'' when the log lacked it. */
  l1Block: number;
  txHash: string;
  logIndex: number;
}

export const VAULT_EVENTS = new Interface([
  'event Deposited(uint256 indexed nonce, address indexed from, address indexed recipient, uint256 amount)',
  'event Released(uint256 indexed index, address indexed l1Recipient, uint256 amount, uint64 indexed height)',
]);
/** topic0 of Deposited, for eth_getLogs filters. */
export const DEPOSITED_TOPIC = VAULT_EVENTS.getEvent('Deposited')!.topicHash;

type LogLike = Pick<Log, 'topics' | 'data'> & Partial<Pick<Log, 'blockNumber' | 'transactionHash' | 'index'>> & { logIndex?: number };

/** Decode one Vault Deposited log. */
export function decodeDepositLog(log: LogLike): Deposit {
  if (log.topics[0] !== DEPOSITED_TOPIC) {
    throw new PocError<DepositErrorCode>('DEPOSIT_BAD_LOG', `not a Deposited log: topic ${log.topics[0]}`);
  }
  let d;
  try {
    d = VAULT_EVENTS.decodeEventLog('Deposited', log.data, log.topics);
  } catch (cause) {
    throw new PocError<DepositErrorCode>('DEPOSIT_BAD_LOG', 'malformed Deposited log', { cause });
  }
  return {
    nonce: d.nonce as bigint,
    from: getAddress(d.from as string),
    recipient: getAddress(d.recipient as string),
    amount: d.amount as bigint,
    l1Block: log.blockNumber ?? -1,
    txHash: log.transactionHash ?? '',
    logIndex: log.index ?? log.logIndex ?? -1,
  };
}

/** Decode the Deposited logs among `logs` (others are skipped). */
export function decodeDepositLogs(logs: readonly LogLike[]): Deposit[] {
  return logs.filter((l) => l.topics[0] === DEPOSITED_TOPIC).map(decodeDepositLog);
}

/**
 * Deposits with nonces `from, from+1, ...` in order, stopping at the first missing nonce.
 * The same nonce seen twice (a log re-delivered) is fine when identical; different contents throw.
 */
export function orderDeposits(deposits: readonly Deposit[], from: bigint): Deposit[] {
  const byNonce = new Map<bigint, Deposit>();
  for (const d of deposits) {
    const seen = byNonce.get(d.nonce);
    if (seen && (seen.recipient !== d.recipient || seen.amount !== d.amount || seen.from !== d.from)) {
      throw new PocError<DepositErrorCode>('DEPOSIT_CONFLICT', `two different deposits with nonce ${d.nonce}`, { data: { nonce: d.nonce.toString() } });
    }
    byNonce.set(d.nonce, d);
  }
  const out: Deposit[] = [];
  for (let n = from; byNonce.has(n); n++) out.push(byNonce.get(n)!);
  return out;
}
