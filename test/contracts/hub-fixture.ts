/**
 * Test fixture: a real anvil with Staking and Hub runtime code placed at their genesis addresses
 * (anvil_setCode, no constructor — exactly as genesis does), SYSTEM_ADDRESS impersonated, and a
 * thin JSON-RPC client (eth_sendTransaction from anvil's unlocked accounts, one block per tx).
 */
import { AbiCoder, Interface, keccak256, type Result } from 'ethers';
import { startAnvil, type AnvilHandle } from '../../lib/anvil.ts';
import { loadArtifact } from '../../contracts/artifacts.ts';
import { HUB_ADDRESS, STAKING_ADDRESS, SYSTEM_ADDRESS } from '../../consensus/poc/index.ts';

export interface Receipt {
  status: number;
  blockNumber: bigint;
  gasUsed: bigint;
  logs: { address: string; topics: string[]; data: string }[];
}

export interface ParsedLog {
  name: string;
  args: Result;
}

export class HubFixture {
  readonly anvil: AnvilHandle;
  readonly accounts: string[];
  readonly hub = new Interface(loadArtifact('Hub').abi);
  readonly staking = new Interface(loadArtifact('Staking').abi);
  private id = 0;

  constructor(anvil: AnvilHandle, accounts: string[]) {
    this.anvil = anvil;
    this.accounts = accounts;
  }

  /** Raw JSON-RPC call; throws with the error object (incl. revert data) attached. */
  async rpc<T = any>(method: string, params: unknown[] = []): Promise<T> {
    const r = await fetch(this.anvil.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++this.id, method, params }, (_k, v) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v)),
    });
    const j = (await r.json()) as { result?: T; error?: { message: string; data?: unknown } };
    if (j.error) throw Object.assign(new Error(`${method}: ${j.error.message}`), { rpcError: j.error });
    return j.result as T;
  }

  /** Send a transaction (mined at once); returns its receipt, reverted or not. */
  async send(from: string, to: string, data: string, value = 0n, gas = 30_000_000n): Promise<Receipt> {
    const hash = await this.rpc<string>('eth_sendTransaction', [{ from, to, data, value, gas }]);
    const r = await this.receipt(hash);
    return { status: Number(r.status), blockNumber: BigInt(r.blockNumber), gasUsed: BigInt(r.gasUsed), logs: r.logs };
  }

  /**
   * Receipt of a sent transaction; anvil mines asynchronously, so poll. The bound is generous: a
   * 30M-gas schedule() at 256 executors took over 20 s to mine on a loaded 2-core CI machine, and
   * the bound only catches an anvil that stopped mining (the test's own timeout is the real limit).
   */
  async receipt(hash: string, timeoutMs = 240_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; ; i++) {
      const r = await this.rpc<any>('eth_getTransactionReceipt', [hash]);
      if (r) return r;
      if (Date.now() > deadline) throw new Error(`no receipt for ${hash} after ${timeoutMs / 1000} s`);
      await new Promise((res) => setTimeout(res, i < 20 ? 1 : 10));
    }
  }

  /** eth_call on the latest block. */
  call(to: string, data: string, from?: string): Promise<string> {
    return this.rpc<string>('eth_call', [{ to, data, ...(from ? { from } : {}) }, 'latest']);
  }

  /** Custom error name (and args) a call would revert with, or null if it would succeed. */
  async revertOf(from: string, to: string, data: string, value = 0n): Promise<{ name: string; args: Result } | null> {
    try {
      await this.rpc('eth_call', [{ from, to, data, value }, 'latest']);
      return null;
    } catch (e: any) {
      const d = e.rpcError?.data;
      const hex = typeof d === 'string' ? d : d?.data;
      if (typeof hex !== 'string') throw e;
      const iface = to.toLowerCase() === STAKING_ADDRESS ? this.staking : this.hub;
      const p = iface.parseError(hex);
      if (!p) throw new Error(`unknown revert data ${hex}`);
      return { name: p.name, args: p.args };
    }
  }

  /** Call a Hub function from `from` (value optional). */
  hubTx(from: string, fn: string, args: unknown[] = [], value = 0n): Promise<Receipt> {
    return this.send(from, HUB_ADDRESS, this.hub.encodeFunctionData(fn, args), value);
  }

  stakingTx(from: string, fn: string, args: unknown[] = [], value = 0n): Promise<Receipt> {
    return this.send(from, STAKING_ADDRESS, this.staking.encodeFunctionData(fn, args), value);
  }

  /** Read a Hub view. */
  async hubView(fn: string, args: unknown[] = []): Promise<Result> {
    return this.hub.decodeFunctionResult(fn, await this.call(HUB_ADDRESS, this.hub.encodeFunctionData(fn, args)));
  }

  async stakingView(fn: string, args: unknown[] = []): Promise<Result> {
    return this.staking.decodeFunctionResult(fn, await this.call(STAKING_ADDRESS, this.staking.encodeFunctionData(fn, args)));
  }

  /** System call from SYSTEM_ADDRESS with a fixed 30M gas, as the node makes it. */
  system(fn: 'schedule' | 'finalize', args: unknown[] = []): Promise<Receipt> {
    return this.hubTx(SYSTEM_ADDRESS, fn, args);
  }

  /** Hub and Staking events of a receipt, in order. */
  parseLogs(r: Receipt): ParsedLog[] {
    const out: ParsedLog[] = [];
    for (const l of r.logs) {
      const iface = l.address.toLowerCase() === HUB_ADDRESS ? this.hub : l.address.toLowerCase() === STAKING_ADDRESS ? this.staking : null;
      const p = iface?.parseLog(l);
      if (p) out.push({ name: p.name, args: p.args });
    }
    return out;
  }

  /** Set an executor's reputation score directly in Hub storage (mapping at slot 0). */
  async setScore(executor: string, score: bigint): Promise<void> {
    const slot = keccak256(AbiCoder.defaultAbiCoder().encode(['address', 'uint256'], [executor, 0n]));
    await this.rpc('anvil_setStorageAt', [HUB_ADDRESS, slot, '0x' + score.toString(16).padStart(64, '0')]);
  }

  async blockNumber(): Promise<bigint> {
    return BigInt(await this.rpc<string>('eth_blockNumber'));
  }

  /** Mine n empty blocks. */
  async mine(n: number | bigint): Promise<void> {
    if (BigInt(n) > 0n) await this.rpc('anvil_mine', ['0x' + BigInt(n).toString(16)]);
  }

  snapshot(): Promise<string> {
    return this.rpc<string>('evm_snapshot');
  }

  async revert(id: string): Promise<void> {
    const ok = await this.rpc<boolean>('evm_revert', [id]);
    if (!ok) throw new Error(`evm_revert ${id} failed`);
  }

  async balance(a: string): Promise<bigint> {
    return BigInt(await this.rpc<string>('eth_getBalance', [a, 'latest']));
  }

  stop(): Promise<void> {
    return this.anvil.stop();
  }
}

/** Start anvil and install Staking + Hub as genesis would. */
export async function startHubFixture(accounts = 30): Promise<HubFixture> {
  // contracts/build is committed (and checked against a fresh compile by test/unit/contracts-artifacts.test.ts)
  const anvil = await startAnvil({ args: ['--accounts', String(accounts), '--balance', '1000000', '--gas-limit', '100000000'] });
  const probe = new HubFixture(anvil, []);
  const list = (await probe.rpc<string[]>('eth_accounts')).map((a) => a.toLowerCase());
  const f = new HubFixture(anvil, list);
  await f.rpc('anvil_setCode', [STAKING_ADDRESS, loadArtifact('Staking').deployedBytecode]);
  await f.rpc('anvil_setCode', [HUB_ADDRESS, loadArtifact('Hub').deployedBytecode]);
  await f.rpc('anvil_impersonateAccount', [SYSTEM_ADDRESS]);
  await f.rpc('anvil_setBalance', [SYSTEM_ADDRESS, '0x' + (10n ** 24n).toString(16)]);
  return f;
}

/** Deploy a contract from an artifact with constructor args; returns its address. */
export async function deploy(f: HubFixture, from: string, name: string, args: unknown[] = []): Promise<string> {
  const a = loadArtifact(name);
  const iface = new Interface(a.abi);
  const data = a.bytecode + iface.encodeDeploy(args).slice(2);
  const hash = await f.rpc<string>('eth_sendTransaction', [{ from, data, gas: 10_000_000n }]);
  const r = await f.receipt(hash);
  if (Number(r.status) !== 1) throw new Error(`deploy ${name} failed`);
  return (r.contractAddress as string).toLowerCase();
}
