/**
 * Typed access to the Hub, Staking and Validators system contracts over JSON-RPC (ethers v6), shared by the
 * executor agent and the CLI: providers configured for a fast local chain, contract handles,
 * revert decoding into the Hub's custom error names, and a serialised transaction sender.
 */
import { Contract, Interface, JsonRpcProvider, Wallet, isError, type BaseContractMethod, type TransactionReceipt, type ContractTransactionResponse } from 'ethers';
import { loadArtifact } from '../contracts/artifacts.ts';
import { HUB_ADDRESS, STAKING_ADDRESS } from '../consensus/poc/index.ts';
import { VALIDATORS_ADDRESS } from '../consensus/validator-params.ts';
import { PocError } from '../lib/errors.ts';

export const hubIface = new Interface(loadArtifact('Hub').abi);
export const stakingIface = new Interface(loadArtifact('Staking').abi);
export const validatorsIface = new Interface(loadArtifact('Validators').abi);
const callbackIface = new Interface(['error NotHub(address caller)', 'error Refused()']);

/** Task status names by code (Hub.STATUS_*). */
export const STATUS_NAMES = ['none', 'active', 'revealing', 'completed', 'failed'] as const;
/** Assignment status names by code (Hub.A_*). */
export const ASSIGNMENT_NAMES = ['none', 'assigned', 'contributed', 'revealed', 'declined'] as const;

/**
 * A provider for pocchain: no 250 ms call cache (a restarted executor must see fresh state), fast
 * receipt polling (blocks are 100 ms – 1 s), and no network re-detection on every call.
 */
export function makeProvider(rpcUrl: string, pollingMs = 100): JsonRpcProvider {
  return new JsonRpcProvider(rpcUrl, undefined, { cacheTimeout: -1, pollingInterval: pollingMs, staticNetwork: true, batchMaxCount: 1 });
}

export function hubContract(runner: JsonRpcProvider | Wallet): Contract {
  return new Contract(HUB_ADDRESS, hubIface, runner);
}

export function stakingContract(runner: JsonRpcProvider | Wallet): Contract {
  return new Contract(STAKING_ADDRESS, stakingIface, runner);
}

export function validatorsContract(runner: JsonRpcProvider | Wallet): Contract {
  return new Contract(VALIDATORS_ADDRESS, validatorsIface, runner);
}

export interface DecodedRevert {
  name: string;
  args: string[];
  /** "Name(arg, arg)" */
  text: string;
}

/**
 * Every object an ethers/RPC error links to (itself, then depth-first through `error`, `info`,
 * `cause` and `payload`), each once and at most 20: ethers wraps the node's JSON-RPC error and
 * fetch's socket error at different depths depending on the call, so the helpers below search all of them.
 */
export function errorChain(e: unknown): any[] {
  const out: any[] = [];
  const seen = new Set<unknown>();
  const walk = (x: any) => {
    if (!x || typeof x !== 'object' || seen.has(x) || out.length >= 20) return;
    seen.add(x);
    out.push(x);
    for (const k of ['error', 'info', 'cause', 'payload']) walk(x[k]);
  };
  walk(e);
  return out;
}

/** Find revert data anywhere in an ethers/RPC error and decode it with the Hub/Staking/Validators ABIs. */
export function decodeRevert(e: unknown): DecodedRevert | undefined {
  const data: string | undefined = errorChain(e).find((x) => typeof x.data === 'string' && /^0x[0-9a-fA-F]{8}/.test(x.data))?.data;
  if (!data) return undefined;
  for (const iface of [hubIface, stakingIface, validatorsIface, callbackIface]) {
    try {
      const d = iface.parseError(data);
      if (d) {
        const args = d.args.map((a) => String(a));
        return { name: d.name, args, text: `${d.name}(${args.join(', ')})` };
      }
    } catch {
      /* not this ABI */
    }
  }
  return undefined;
}

/**
 * The node gave up executing a call or gas estimate (its RPC EVM timeout, geth's wording): ethers
 * reports that as a revert without data ("missing revert data"), which it is not.
 */
export function nodeTimeout(e: unknown): string | undefined {
  const re = /execution aborted \(timeout[^)]*\)/i;
  for (const x of errorChain(e)) if (typeof x.message === 'string' && re.test(x.message)) return x.message.match(re)![0];
  return undefined;
}

/** JSON-RPC codes of a call the node failed to run, as opposed to one the contract refused. */
const NODE_FAILURE_CODES = new Set([-32603, -32005]);

/**
 * The node's own message when it could not run a call (an internal error, or its call pool full):
 * ethers reports any eth_call/eth_estimateGas error as CALL_EXCEPTION, "missing revert data"
 * when there is none, which reads as the contract refusing. Such a failure is worth a retry.
 */
export function nodeFailure(e: unknown): string | undefined {
  const x = nodeError(e);
  return x && NODE_FAILURE_CODES.has(x.code) ? `${x.message} (JSON-RPC ${x.code})` : undefined;
}

/** The node's JSON-RPC error ({code, message}) that an ethers error wraps, if any. */
function nodeError(e: unknown): { code: number; message: string } | undefined {
  return errorChain(e).find((x) => typeof x.code === 'number' && typeof x.message === 'string');
}

/** A short, user-facing message for a failed call or transaction. */
export function explainError(e: unknown): string {
  const t = nodeTimeout(e);
  if (t) return `the node gave up executing it (${t}): the chain is busy or the call too large; retry, or make it smaller`;
  const n = nodeFailure(e);
  if (n) return `the node could not run it: ${n}; retry`;
  const r = decodeRevert(e);
  if (r) return `the contract refused: ${r.text}`;
  if (isError(e, 'CALL_EXCEPTION')) {
    // without revert data ethers says only "missing revert data": the node's own words say why
    const node = nodeError(e);
    return `the contract refused: ${e.shortMessage}${node && !e.data ? ` (node: ${node.message}, JSON-RPC ${node.code})` : ''}`;
  }
  if (isError(e, 'INSUFFICIENT_FUNDS')) return 'insufficient funds for value + gas';
  const m = (e as any)?.shortMessage ?? (e as any)?.info?.error?.message ?? (e as Error)?.message ?? String(e);
  return String(m);
}

export type TxErrorCode = 'TX_REVERTED' | 'TX_REFUSED' | 'TX_TIMEOUT' | 'TX_ESTIMATE_TIMEOUT' | 'RPC_ERROR';

/** What TxSender adds to a call when it keeps the nonce and fees itself (TxSenderOptions.pipelined). */
export interface SendOverrides {
  nonce?: number;
  maxFeePerGas?: bigint;
  maxPriorityFeePerGas?: bigint;
  gasPrice?: bigint;
}

export interface TxSenderOptions {
  /**
   * Keep the account's next nonce here and reuse fee data for FEE_DATA_TTL_MS, so a submission in
   * the queue is one round trip (sendRawTransaction) instead of four: an executor holding many
   * assignments submits its contributions back to back (measured on a loaded devnet: 26 s from
   * "ran" to "committed" with 20 tasks in the queue, past the 10-block assignment window). Only for
   * an account no other process sends from; any failure drops the nonce, re-read from the node.
   */
  pipelined?: boolean;
}

/** How long fee data is reused: EIP-1559's maxFee = 2 × baseFee + tip covers several full blocks. */
export const FEE_DATA_TTL_MS = 1_000;

/** The node refused a transaction for its nonce: used already, or taken by a pending one. */
function staleNonce(e: unknown): boolean {
  if (isError(e, 'NONCE_EXPIRED') || isError(e, 'REPLACEMENT_UNDERPRICED')) return true;
  return /nonce too low|replacement transaction underpriced/i.test(explainError(e));
}

/**
 * Sends transactions from one wallet: the send step (nonce, signature, submission; the gas
 * estimate too unless the caller makes it first with `estimate`) runs one at a time so nonces
 * never race, while waiting for inclusion runs concurrently, so many tasks' commits fit in one
 * block. Refusals become PocErrors carrying the decoded revert (`data.revert`).
 */
export class TxSender {
  readonly wallet: Wallet;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #pipelined: boolean;
  #nonce: number | undefined;
  #fees: { at: number; o: SendOverrides } | undefined;
  constructor(wallet: Wallet, o: TxSenderOptions = {}) {
    this.wallet = wallet;
    this.#pipelined = !!o.pipelined;
  }

  /**
   * The one error of a call the node or the contract refused before it was sent. `stage`: where
   * it failed; a node failure while submitting stays TX_REFUSED, since the node may have taken the
   * transaction before failing, and retrying blindly could send the request twice.
   */
  static refusal(what: string, e: unknown, stage: 'estimate' | 'submit' = 'estimate'): PocError<TxErrorCode> {
    const revert = decodeRevert(e);
    // a gas estimate the node timed out on or failed to run is no refusal by the contract: the
    // caller retries (the executor's step loop, a bag's request) or reports the node's error
    const code: TxErrorCode = nodeTimeout(e) ? 'TX_ESTIMATE_TIMEOUT' : stage === 'estimate' && !revert && nodeFailure(e) ? 'RPC_ERROR' : 'TX_REFUSED';
    return new PocError<TxErrorCode>(code, `${what}: ${explainError(e)}`, { data: { revert: revert?.name, revertText: revert?.text }, cause: e });
  }

  /**
   * Send a contract call with headroom over its estimate. The estimate runs on the latest state,
   * but the block that includes the call runs the Hub's system calls and other senders'
   * transactions first, which can change the path taken and the storage written: executors'
   * contributions race each other (the one reaching consensus writes more), and a requestTasks of
   * 8 tasks estimated at 732 k ran out of gas in the bag bench. Unused gas is not charged. The
   * estimate is made before the call joins the queue, so many estimates can overlap.
   */
  async sendCall(what: string, fn: BaseContractMethod, args: unknown[], overrides: { value?: bigint } = {}): Promise<TransactionReceipt> {
    const est = await this.estimate(what, () => fn.estimateGas(...args, overrides));
    return this.send(what, (o) => fn(...args, { ...overrides, ...o, gasLimit: est + est / 2n + 100_000n }));
  }

  /** A gas estimate made outside the queue (many can run at once), with send's error model. */
  async estimate(what: string, estimate: () => Promise<bigint>): Promise<bigint> {
    try {
      return await estimate();
    } catch (e) {
      throw TxSender.refusal(what, e);
    }
  }

  async #overrides(): Promise<SendOverrides> {
    if (!this.#pipelined) return {};
    const provider = this.wallet.provider!;
    if (this.#nonce === undefined) this.#nonce = await provider.getTransactionCount(this.wallet.address, 'pending');
    if (!this.#fees || Date.now() - this.#fees.at > FEE_DATA_TTL_MS) {
      const f = await provider.getFeeData();
      const o: SendOverrides = f.maxFeePerGas !== null && f.maxPriorityFeePerGas !== null ? { maxFeePerGas: f.maxFeePerGas, maxPriorityFeePerGas: f.maxPriorityFeePerGas } : f.gasPrice !== null ? { gasPrice: f.gasPrice } : {};
      this.#fees = { at: Date.now(), o };
    }
    return { nonce: this.#nonce, ...this.#fees.o };
  }

  /**
   * Submit `send` (a contract call) exclusively, then wait for its receipt. `send` receives the
   * nonce and fees to use when the sender is pipelined (pass them through), else nothing.
   */
  async send(what: string, send: (o: SendOverrides) => Promise<ContractTransactionResponse>, timeoutMs = 60_000): Promise<TransactionReceipt> {
    const submit = async (retried = false): Promise<ContractTransactionResponse> => {
      try {
        const tx = await send(await this.#overrides());
        this.#nonce = tx.nonce + 1;
        return tx;
      } catch (e) {
        this.#nonce = undefined;
        // another sender with the same key (the operator's CLI, a second agent) used the nonce we
        // kept: read it again and send once more, rather than give the task up
        if (this.#pipelined && !retried && staleNonce(e)) return submit(true);
        throw TxSender.refusal(what, e, 'submit');
      }
    };
    const p = this.#queue.then(() => submit(), () => submit());
    this.#queue = p.catch(() => {});
    const tx = await p;
    let rc: TransactionReceipt | null;
    try {
      rc = await tx.wait(1, timeoutMs);
    } catch (e) {
      // not included (dropped, replaced, reverted): the node's pending count is the truth again
      this.#nonce = undefined;
      if (isError(e, 'CALL_EXCEPTION')) {
        throw new PocError<TxErrorCode>('TX_REVERTED', `${what}: transaction ${tx.hash} reverted`, { data: { tx: tx.hash }, cause: e });
      }
      if (isError(e, 'TIMEOUT')) throw new PocError<TxErrorCode>('TX_TIMEOUT', `${what}: transaction ${tx.hash} not included after ${timeoutMs} ms`, { data: { tx: tx.hash }, cause: e });
      throw e;
    }
    if (!rc) throw new PocError<TxErrorCode>('TX_TIMEOUT', `${what}: no receipt for ${tx.hash}`, { data: { tx: tx.hash } });
    return rc;
  }
}
