/** Shared pieces of the benchmarks: workloads, senders and figures. Never run by npm test. */
import { Wallet, Transaction, Interface, parseUnits, type HDNodeWallet } from 'ethers';

export async function rpcCall(url: string, method: string, params: unknown[] = []): Promise<any> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  const j = (await r.json()) as any;
  if (j.error) throw new Error(`${method}: ${j.error.message}`);
  return j.result;
}

export async function rpcBatch(url: string, calls: { method: string; params: unknown[] }[]): Promise<any[]> {
  const body = calls.map((c, i) => ({ jsonrpc: '2.0', id: i, ...c }));
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const j = (await r.json()) as any[];
  return j.sort((a, b) => a.id - b.id);
}

export interface Workload {
  name: string;
  raw: string[];
  last: string[];
}

/** Pre-sign `perSender` txs from each sender (signing is not what is measured). */
export async function signWorkload(name: string, chainId: number, senders: HDNodeWallet[], perSender: number, make: (from: HDNodeWallet, i: number) => { to: string; data?: string; value?: bigint; gasLimit: bigint }, nonces: number[]): Promise<Workload> {
  const raw: string[] = [];
  const last: string[] = [];
  for (let s = 0; s < senders.length; s++) {
    const w = new Wallet(senders[s]!.privateKey);
    let h = '';
    for (let i = 0; i < perSender; i++) {
      const f = make(senders[s]!, i);
      const tx = Transaction.from({ type: 2, chainId, nonce: nonces[s]! + i, maxFeePerGas: parseUnits('50', 'gwei'), maxPriorityFeePerGas: parseUnits('1', 'gwei'), ...f });
      const signed = await w.signTransaction(tx);
      raw.push(signed);
      h = Transaction.from(signed).hash!;
    }
    last.push(h);
  }
  // interleave senders as independent clients would
  const inter: string[] = [];
  for (let i = 0; i < perSender; i++) for (let s = 0; s < senders.length; s++) inter.push(raw[s * perSender + i]!);
  return { name, raw: inter, last };
}

/** Send a workload in JSON-RPC batches and wait until every sender's last tx is mined; tx/s. */
export async function runWorkload(url: string, w: Workload, batch = 50): Promise<{ txs: number; seconds: number; tps: number }> {
  const t0 = performance.now();
  for (let i = 0; i < w.raw.length; i += batch) {
    const res = await rpcBatch(url, w.raw.slice(i, i + batch).map((r) => ({ method: 'eth_sendRawTransaction', params: [r] })));
    const err = res.find((x) => x.error);
    if (err) throw new Error(`send failed: ${err.error.message}`);
  }
  for (const h of w.last) {
    for (;;) {
      const r = await rpcCall(url, 'eth_getTransactionReceipt', [h]);
      if (r) {
        if (r.status !== '0x1') throw new Error(`tx ${h} failed`);
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  return { txs: w.raw.length, seconds, tps: w.raw.length / seconds };
}

export const erc20 = new Interface(['function transfer(address,uint256) returns (bool)', 'function mint(address,uint256)']);

export function table(rows: Record<string, string | number>[]): string {
  const cols = Object.keys(rows[0] ?? {});
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(width[i]!)).join('  ');
  return [line(cols), line(width.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => String(r[c]))))].join('\n');
}
