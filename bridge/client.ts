/**
 * What a token holder (and the CLI) does with the bridge: deposit on L1 and wait for the credit,
 * withdraw on the sidechain, wait for a checkpoint covering it and release on L1, and read the
 * status of both sides with the supply invariant. Progress goes to a callback, never to stdout.
 */
import { Contract, JsonRpcProvider, Network, getAddress, type Signer, type TransactionReceipt } from 'ethers';
import { PocError } from '../lib/errors.ts';
import { abiOf } from './abi.ts';
import { decodeDepositLogs, DEPOSITED_TOPIC, VAULT_EVENTS } from './deposit.ts';
import { BRIDGE_ADDRESS } from './deposits-hook.ts';
import { decodeWithdrawalLog, WITHDRAWAL_REQUESTED_TOPIC } from './merkle.ts';
import { buildRelease, releaseCallArgs } from './prover.ts';

export type ClientErrorCode = 'BRIDGE_TIMEOUT' | 'BRIDGE_NO_INFO' | 'BRIDGE_TX_FAILED';

export type Progress = (msg: string, data?: Record<string, unknown>) => void;

/** pocchain_bridgeInfo of a sidechain node. */
export interface BridgeInfo {
  l1ChainId: number;
  vault: string;
  checkpoints: string;
  token: string | null;
  startBlock: number;
  epochLength: number;
  confirmations: number;
  bridge: string;
}

/** An ethers provider with no response cache (reads right after a write must see it). */
export function provider(url: string, chainId?: number): JsonRpcProvider {
  return new JsonRpcProvider(url, chainId === undefined ? undefined : Network.from(chainId), { cacheTimeout: -1, pollingInterval: 200, ...(chainId === undefined ? {} : { staticNetwork: true }) });
}

export async function bridgeInfo(sidechain: JsonRpcProvider): Promise<BridgeInfo> {
  const info = (await sidechain.send('pocchain_bridgeInfo', [])) as BridgeInfo | null;
  if (!info) throw new PocError<ClientErrorCode>('BRIDGE_NO_INFO', 'the sidechain has no bridge configured (genesis has no bridge section)');
  return info;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new PocError<ClientErrorCode>('BRIDGE_TIMEOUT', `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

function ok(r: TransactionReceipt | null, what: string): TransactionReceipt {
  if (!r || r.status !== 1) throw new PocError<ClientErrorCode>('BRIDGE_TX_FAILED', `${what} failed on chain (tx ${r?.hash ?? '?'})`);
  return r;
}

export interface DepositResult {
  nonce: bigint;
  amount: bigint;
  recipient: string;
  l1TxHash: string;
  l1Block: number;
  /** sidechain block that minted it (when waited for) */
  creditedAt?: number;
}

/** Approve and lock `amount` in the Vault for `to`; with `sidechain`, wait until it is minted. */
export async function deposit(o: { signer: Signer; vault: string; amount: bigint; to: string; sidechain?: JsonRpcProvider; timeoutMs?: number; progress?: Progress }): Promise<DepositResult> {
  const p = o.progress ?? (() => {});
  const vault = new Contract(o.vault, abiOf('Vault'), o.signer);
  const token = new Contract(await vault.getFunction('token')(), abiOf('TestToken'), o.signer);
  const me = await o.signer.getAddress();
  const allowance = (await token.getFunction('allowance')(me, o.vault)) as bigint;
  if (allowance < o.amount) {
    p('approving the Vault', { amount: o.amount.toString() });
    ok(await (await token.getFunction('approve').send(o.vault, o.amount)).wait(), 'approve');
  }
  p('locking in the Vault', { amount: o.amount.toString(), to: o.to });
  const r = ok(await (await vault.getFunction('deposit').send(getAddress(o.to), o.amount)).wait(), 'Vault.deposit');
  const d = decodeDepositLogs(r.logs.filter((l) => getAddress(l.address) === getAddress(o.vault)))[0]!;
  const out: DepositResult = { nonce: d.nonce, amount: d.amount, recipient: d.recipient, l1TxHash: r.hash, l1Block: r.blockNumber };
  p('locked on L1', { nonce: d.nonce.toString(), l1Block: r.blockNumber });
  if (o.sidechain) {
    const sc = o.sidechain;
    let last = '';
    const status = await until('the deposit to be minted on the sidechain', o.timeoutMs ?? 300_000, async () => {
      const s = await sc.send('pocchain_bridgeStatus', []);
      if (BigInt(s.nextDepositNonce) > d.nonce) return s;
      const msg = s.l1 ? `waiting for L1 confirmations: L1 head ${s.l1.l1Head}, deposit in block ${r.blockNumber}, need ${s.l1.confirmations} on top` : 'waiting for the sidechain to mint';
      if (msg !== last) p((last = msg));
      return undefined;
    });
    out.creditedAt = status.head;
    p('minted on the sidechain', { head: status.head });
  }
  return out;
}

export interface WithdrawResult {
  index: bigint;
  amount: bigint;
  l1Recipient: string;
  sidechainTx: string;
  sidechainBlock: number;
  checkpointHeight: number;
  l1ReleaseTx: string;
}

/** Burn `amount` for `to` on L1, wait for a checkpoint on L1 covering it, prove and release. */
export async function withdraw(o: { sidechainSigner: Signer; l1Signer: Signer; sidechain: JsonRpcProvider; l1: JsonRpcProvider; amount: bigint; to: string; checkpoints: string; vault: string; timeoutMs?: number; progress?: Progress }): Promise<WithdrawResult> {
  const p = o.progress ?? (() => {});
  const bridge = new Contract(BRIDGE_ADDRESS, abiOf('Bridge'), o.sidechainSigner);
  p('burning on the sidechain', { amount: o.amount.toString(), to: o.to });
  const r = ok(await (await bridge.getFunction('withdraw').send(getAddress(o.to), { value: o.amount })).wait(), 'Bridge.withdraw');
  const log = r.logs.find((l) => l.topics[0] === WITHDRAWAL_REQUESTED_TOPIC)!;
  const w = decodeWithdrawalLog(log);
  p('withdrawal requested', { index: w.index.toString(), block: r.blockNumber });
  const res = await releaseWithdrawal({ ...o, index: w.index, minHeight: r.blockNumber });
  return { index: w.index, amount: w.amount, l1Recipient: w.l1Recipient, sidechainTx: r.hash, sidechainBlock: r.blockNumber, ...res };
}

/** Wait for an L1 checkpoint at or above `minHeight`, then prove and release withdrawal `index` (anyone may). */
export async function releaseWithdrawal(o: { l1Signer: Signer; sidechain: JsonRpcProvider; l1: JsonRpcProvider; checkpoints: string; vault: string; index: bigint; minHeight?: number; timeoutMs?: number; progress?: Progress }): Promise<{ checkpointHeight: number; l1ReleaseTx: string }> {
  const p = o.progress ?? (() => {});
  const cps = new Contract(o.checkpoints, abiOf('Checkpoints'), o.l1);
  let last = -1;
  const height = await until('a checkpoint covering the withdrawal on L1', o.timeoutMs ?? 600_000, async () => {
    const h = Number(await cps.getFunction('latestHeight')());
    if (h >= (o.minHeight ?? 0) && h > 0) return h;
    if (h !== last) p('waiting for a checkpoint on L1', { l1Checkpoint: (last = h), need: o.minHeight });
    return undefined;
  });
  const args = await buildRelease({ sidechain: o.sidechain, l1: o.l1, checkpoints: o.checkpoints, index: o.index, height });
  p('proof built', { height, index: o.index.toString() });
  const vault = new Contract(o.vault, abiOf('Vault'), o.l1Signer);
  const tx = await vault.getFunction('release').send(...releaseCallArgs(args));
  const rr = ok(await tx.wait(), 'Vault.release');
  p('released on L1', { tx: rr.hash });
  return { checkpointHeight: height, l1ReleaseTx: rr.hash };
}

export interface BridgeStatusReport {
  l1: { lockedInVault: string; depositsOnL1: number; released: string; latestCheckpoint: number; pendingDeposits: string };
  sidechain: { head: number; nextDepositNonce: string; mintedFromDeposits: string; burnedByWithdrawals: string; withdrawalCount: number; latestSignedCheckpoint: number | null; checkpointQuorum: boolean | null };
  /** supply from deposits in circulation = minted − burned */
  nativeSupplyFromDeposits: string;
  /** burned on the sidechain, not yet released on L1 */
  pendingWithdrawals: string;
  /** locked = native supply from deposits + pending withdrawals + deposits not yet minted */
  invariantHolds: boolean;
}

/** Both sides of the bridge and the supply invariant. */
export async function bridgeStatus(o: { sidechain: JsonRpcProvider; l1: JsonRpcProvider }): Promise<BridgeStatusReport> {
  const info = await bridgeInfo(o.sidechain);
  const s = await o.sidechain.send('pocchain_bridgeStatus', []);
  const vault = new Contract(info.vault, abiOf('Vault'), o.l1);
  const token = new Contract(await vault.getFunction('token')(), abiOf('TestToken'), o.l1);
  const cps = new Contract(info.checkpoints, abiOf('Checkpoints'), o.l1);
  const l1Head = await o.l1.getBlockNumber();
  const [locked, l1Height, depLogs, relLogs] = await Promise.all([
    token.getFunction('balanceOf')(info.vault) as Promise<bigint>,
    cps.getFunction('latestHeight')().then(Number),
    o.l1.getLogs({ address: info.vault, topics: [DEPOSITED_TOPIC], fromBlock: info.startBlock, toBlock: l1Head }),
    o.l1.getLogs({ address: info.vault, topics: [VAULT_EVENTS.getEvent('Released')!.topicHash], fromBlock: info.startBlock, toBlock: l1Head }),
  ]);
  const next = BigInt(s.nextDepositNonce);
  const deposits = decodeDepositLogs(depLogs);
  const pendingDeposits = deposits.filter((d) => d.nonce >= next).reduce((a, d) => a + d.amount, 0n);
  const released = relLogs.reduce((a, l) => a + (VAULT_EVENTS.parseLog(l)!.args.amount as bigint), 0n);
  const minted = BigInt(s.mintedFromDeposits);
  const burned = BigInt(s.burnedByWithdrawals);
  let latest: { checkpoint: { height: number }; quorum: boolean } | null = null;
  try {
    latest = await o.sidechain.send('pocchain_latestCheckpoint', []);
  } catch {
    latest = null;
  }
  return {
    l1: { lockedInVault: locked.toString(), depositsOnL1: deposits.length, released: released.toString(), latestCheckpoint: l1Height, pendingDeposits: pendingDeposits.toString() },
    sidechain: { head: s.head, nextDepositNonce: s.nextDepositNonce, mintedFromDeposits: s.mintedFromDeposits, burnedByWithdrawals: s.burnedByWithdrawals, withdrawalCount: s.withdrawalCount, latestSignedCheckpoint: latest?.checkpoint.height ?? null, checkpointQuorum: latest?.quorum ?? null },
    nativeSupplyFromDeposits: (minted - burned).toString(),
    pendingWithdrawals: (burned - released).toString(),
    invariantHolds: locked === minted - burned + (burned - released) + pendingDeposits,
  };
}
