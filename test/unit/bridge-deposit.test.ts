/** Decoding Vault Deposited logs and ordering deposits by nonce. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeDepositLog, decodeDepositLogs, DEPOSITED_TOPIC, orderDeposits, VAULT_EVENTS, type Deposit } from '../../bridge/deposit.ts';

const from = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const recipient = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';

function depositLog(nonce: bigint, amount: bigint, extra: Record<string, unknown> = {}) {
  const { data, topics } = VAULT_EVENTS.encodeEventLog('Deposited', [nonce, from, recipient, amount]);
  return { data, topics, blockNumber: 12, transactionHash: '0x' + 'ab'.repeat(32), index: 3, ...extra };
}

test('a Deposited log decodes to a plain object', () => {
  const d = decodeDepositLog(depositLog(5n, 10n ** 18n));
  assert.deepEqual(d, { nonce: 5n, from, recipient, amount: 10n ** 18n, l1Block: 12, txHash: '0x' + 'ab'.repeat(32), logIndex: 3 });
  assert.equal(depositLog(0n, 1n).topics[0], DEPOSITED_TOPIC);
});

test('other logs are refused alone and skipped in bulk', () => {
  const released = VAULT_EVENTS.encodeEventLog('Released', [1n, recipient, 5n, 9n]);
  assert.throws(() => decodeDepositLog(released), { code: 'DEPOSIT_BAD_LOG' });
  assert.throws(() => decodeDepositLog({ ...depositLog(1n, 1n), data: '0x12' }), { code: 'DEPOSIT_BAD_LOG' });
  assert.deepEqual(decodeDepositLogs([released, depositLog(1n, 7n)]).map((d) => d.nonce), [1n]);
});

test('orderDeposits returns the contiguous run from a nonce and tolerates re-delivery', () => {
  const ds: Deposit[] = [3n, 1n, 2n, 5n, 2n].map((n) => decodeDepositLog(depositLog(n, 100n + n)));
  assert.deepEqual(orderDeposits(ds, 1n).map((d) => d.nonce), [1n, 2n, 3n]);
  assert.deepEqual(orderDeposits(ds, 0n), []);
  assert.deepEqual(orderDeposits(ds, 5n).map((d) => d.amount), [105n]);
});

test('two different deposits under one nonce are a conflict', () => {
  const a = decodeDepositLog(depositLog(1n, 100n));
  const b = decodeDepositLog(depositLog(1n, 999n));
  assert.throws(() => orderDeposits([a, b], 1n), { code: 'DEPOSIT_CONFLICT' });
});
