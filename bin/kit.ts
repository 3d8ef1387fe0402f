/**
 * The CLI kit every `pocchain` command is built with, so they all behave alike:
 *
 * - shared options: `--rpc`, `--l1-rpc`, `--key`/`--key-file`, `--json`, `--log-level`;
 * - each endpoint resolved flag > environment (POCCHAIN_RPC, POCCHAIN_L1_RPC) > the running
 *   devnet's manifest (.pocchain/devnet/devnet.json) > the devnet's default port; the key flag >
 *   key file > POCCHAIN_KEY (one loader: lib/keys.ts loadPrivateKey). Keys never default from the
 *   manifest: signing must be asked for;
 * - one action wrapper: a command returns `{ json, text }`; with `--json` stdout carries exactly
 *   one JSON object, otherwise the text; progress goes to stderr. Any failure becomes
 *   `{"error":{"code","message"}}` on stdout (with --json), `error [CODE]: message` on stderr,
 *   and exit code 1;
 * - one parser for integers and one for coin amounts;
 * - `--help` of every command ends with an example line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import { computeAddress, getAddress, isError, JsonRpcProvider, Network, parseUnits } from 'ethers';
import { PocError, isPocError } from '../lib/errors.ts';
import { loadPrivateKey } from '../lib/keys.ts';
import { decodeRevert, errorChain, explainError, nodeFailure, nodeTimeout } from '../executor/hub-client.ts';

export type Opts = Record<string, any>;

export type CliErrorCode = 'USAGE' | 'BAD_INTEGER' | 'BAD_AMOUNT' | 'BAD_ADDRESS' | 'BAD_HASH' | 'RPC_UNREACHABLE' | 'RPC_ERROR' | 'TX_REVERTED' | 'INSUFFICIENT_FUNDS' | 'ERROR';

/** Where the sidechain RPC is when nothing says otherwise (devnet validator 0). */
export const DEFAULT_RPC = 'http://127.0.0.1:8545';
/** Where the L1 RPC is when nothing says otherwise (the devnet's anvil). */
export const DEFAULT_L1_RPC = 'http://127.0.0.1:8645';
/** Longest string argument any parser looks at (bounds the work on bad input). */
const MAX_ARG = 100;

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

// ------------------------------------------------------------------------------------ manifest

export interface ManifestDefaults {
  file: string;
  rpc?: string;
  l1Rpc?: string;
}

/**
 * The running devnet's manifest: $POCCHAIN_DEVNET_DIR/devnet.json, else ./.pocchain/devnet, else
 * the package's own .pocchain/devnet (where `npm start` writes it). Ignored unless `running`.
 */
export function devnetDefaults(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ManifestDefaults | undefined {
  const dirs = env.POCCHAIN_DEVNET_DIR ? [resolve(cwd, env.POCCHAIN_DEVNET_DIR)] : [resolve(cwd, '.pocchain/devnet'), join(ROOT, '.pocchain/devnet')];
  for (const dir of dirs) {
    const file = join(dir, 'devnet.json');
    if (!existsSync(file)) continue;
    let m: any;
    try {
      m = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      continue; // being rewritten or damaged: fall back to the defaults
    }
    if (m?.running !== true) continue;
    const rpc = typeof m.nodes?.[0]?.rpc === 'string' ? m.nodes[0].rpc : undefined;
    const l1Rpc = typeof m.l1?.rpc === 'string' ? m.l1.rpc : undefined;
    return { file, ...(rpc ? { rpc } : {}), ...(l1Rpc ? { l1Rpc } : {}) };
  }
  return undefined;
}

/** The sidechain JSON-RPC URL: --rpc > POCCHAIN_RPC > running devnet > DEFAULT_RPC. */
export function rpcUrl(o: Opts, env: NodeJS.ProcessEnv = process.env): string {
  return String(o.rpc || env.POCCHAIN_RPC || devnetDefaults(env)?.rpc || DEFAULT_RPC);
}

/** The L1 JSON-RPC URL: --l1-rpc > POCCHAIN_L1_RPC > running devnet > DEFAULT_L1_RPC. */
export function l1RpcUrl(o: Opts, env: NodeJS.ProcessEnv = process.env): string {
  return String(o.l1Rpc || env.POCCHAIN_L1_RPC || devnetDefaults(env)?.l1Rpc || DEFAULT_L1_RPC);
}

/** The signing key: --key > --key-file > POCCHAIN_KEY (> --dev-key where a command offers it). */
export function signingKey(o: Opts, env: NodeJS.ProcessEnv = process.env): string {
  if (!o.key && !o.keyFile && !env.POCCHAIN_KEY && o.devKey) return DEV_KEY_0;
  return loadPrivateKey({ key: o.key, keyFile: o.keyFile, env: env.POCCHAIN_KEY });
}
/** Whose account a read-only command looks at: --address, else the address of the key (flag/file/env). */
export function accountAddress(o: Opts, env: NodeJS.ProcessEnv = process.env): string {
  if (o.address) return parseAddress(o.address, '--address');
  return computeAddress(signingKey(o, env));
}

/** Add --address and the key options to a read-only command about one account. */
export function accountOptions(c: Command): Command {
  return c.option('--address <address>', 'the account to look at (default: the address of --key / --key-file / POCCHAIN_KEY)');
}

/** The test mnemonic's first account (anvil's and the devnet's account 0): DEV ONLY. */
const DEV_KEY_0 = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';

/** How long the first request to an endpoint may take before it counts as unreachable. */
const PROBE_TIMEOUT_MS = 10_000;

/**
 * Ask `url` for its chain id, then return a provider pinned to it. The probe gives a clean
 * RPC_UNREACHABLE at once; ethers alone would retry a dead endpoint forever, printing on stdout.
 */
export async function openProvider(url: string): Promise<JsonRpcProvider> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new PocError<CliErrorCode>('USAGE', `"${url.slice(0, MAX_ARG)}" is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new PocError<CliErrorCode>('USAGE', `${u.protocol} endpoints are not supported here: give the http(s) JSON-RPC URL`);
  let chainId: bigint;
  try {
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}', signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    const j = (await r.json()) as { result?: string };
    if (typeof j.result !== 'string') throw new Error(`no chain id (HTTP ${r.status})`);
    chainId = BigInt(j.result);
  } catch (e) {
    const links = errorChain(e);
    const code = links.find((x) => typeof x.code === 'string' && x.code !== 'ABORT_ERR')?.code ?? (links[links.length - 1] as Error).message ?? 'no answer';
    throw new PocError<CliErrorCode>('RPC_UNREACHABLE', `cannot reach the JSON-RPC endpoint ${url} (${code}): is the node running? (--rpc / POCCHAIN_RPC, --l1-rpc / POCCHAIN_L1_RPC)`);
  }
  return new JsonRpcProvider(url, Network.from(chainId), { cacheTimeout: -1, pollingInterval: 200, staticNetwork: true, batchMaxCount: 1 });
}

// ------------------------------------------------------------------------------------ options

export interface CommonSpec {
  /** --rpc (default true) */
  rpc?: boolean;
  /** --l1-rpc */
  l1Rpc?: boolean;
  /** --key/--key-file: the account signing */
  key?: string | false;
  /** --log-level (for commands that log) */
  log?: boolean;
}

/** Add the shared options to a command. */
export function common(c: Command, spec: CommonSpec = {}): Command {
  if (spec.rpc !== false) c.option('--rpc <url>', `sidechain JSON-RPC (env POCCHAIN_RPC, else the running devnet's, else ${DEFAULT_RPC})`);
  if (spec.l1Rpc) c.option('--l1-rpc <url>', `L1 JSON-RPC (env POCCHAIN_L1_RPC, else the running devnet's, else ${DEFAULT_L1_RPC})`);
  if (spec.key) c.option('--key <hex>', `private key of the ${spec.key} (prefer --key-file or env POCCHAIN_KEY)`).option('--key-file <file>', 'file holding the private key (hex, or JSON {privateKey})');
  if (spec.log) c.addOption(new Option('--log-level <level>', 'log level (logs are JSON on stderr)').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'));
  return c.option('--json', 'print exactly one JSON object on stdout (errors too: {"error":{"code","message"}})', false);
}

/** Append the example line to a command's --help. */
export function example(c: Command, ...lines: string[]): Command {
  return c.addHelpText('after', `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}

// ------------------------------------------------------------------------------------ parsers

function bounded(s: unknown, what: string, code: CliErrorCode): string {
  const t = String(s ?? '').trim();
  if (t.length === 0 || t.length > MAX_ARG) throw new PocError<CliErrorCode>(code, `${what}: expected a value of at most ${MAX_ARG} characters`);
  return t;
}

/** A decimal integer in [min, max] (both inclusive). */
export function parseInteger(s: unknown, what: string, range: { min?: bigint; max?: bigint } = {}): bigint {
  const t = bounded(s, what, 'BAD_INTEGER');
  if (!/^-?\d+$/.test(t)) throw new PocError<CliErrorCode>('BAD_INTEGER', `${what}: "${t}" is not a whole number`);
  const v = BigInt(t);
  if (range.min !== undefined && v < range.min) throw new PocError<CliErrorCode>('BAD_INTEGER', `${what}: ${t} is below ${range.min}`);
  if (range.max !== undefined && v > range.max) throw new PocError<CliErrorCode>('BAD_INTEGER', `${what}: ${t} is above ${range.max}`);
  return v;
}

/** parseInteger as a JS number (the range must stay within Number.MAX_SAFE_INTEGER). */
export function parseCount(s: unknown, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  return Number(parseInteger(s, what, { min: BigInt(min), max: BigInt(max) }));
}

/**
 * A coin amount: decimal coins with up to 18 decimals ("1.5"), or base units with `wei` ("1500…").
 * Returns base units. Negative amounts are refused; zero only with `allowZero`.
 */
export function parseAmount(s: unknown, what: string, opts: { wei?: boolean; allowZero?: boolean } = {}): bigint {
  const t = bounded(s, what, 'BAD_AMOUNT');
  let v: bigint;
  if (opts.wei) {
    if (!/^\d+$/.test(t)) throw new PocError<CliErrorCode>('BAD_AMOUNT', `${what}: "${t}" is not a whole number of base units`);
    v = BigInt(t);
  } else {
    if (!/^\d+(\.\d{1,18})?$|^\.\d{1,18}$/.test(t)) throw new PocError<CliErrorCode>('BAD_AMOUNT', `${what}: "${t}" is not an amount in coins (e.g. 0.5; at most 18 decimals)`);
    v = parseUnits(t, 18);
  }
  if (v === 0n && !opts.allowZero) throw new PocError<CliErrorCode>('BAD_AMOUNT', `${what}: must be more than 0`);
  return v;
}

/** A 20-byte address (checksummed output). */
export function parseAddress(s: unknown, what: string): string {
  const t = bounded(s, what, 'BAD_ADDRESS');
  if (!/^0x[0-9a-fA-F]{40}$/.test(t)) throw new PocError<CliErrorCode>('BAD_ADDRESS', `${what}: "${t}" is not a 0x-prefixed 20-byte address`);
  try {
    return getAddress(t); // refuses a mixed-case address whose checksum is wrong
  } catch {
    throw new PocError<CliErrorCode>('BAD_ADDRESS', `${what}: "${t}" has a wrong checksum (mixed case)`);
  }
}

/** A 32-byte hash (lowercase, 0x-prefixed). */
export function parseHash(s: unknown, what: string): string {
  const t = bounded(s, what, 'BAD_HASH');
  const h = t.startsWith('0x') ? t : '0x' + t;
  if (!/^0x[0-9a-fA-F]{64}$/.test(h)) throw new PocError<CliErrorCode>('BAD_HASH', `${what}: expected a 32-byte hex hash`);
  return h.toLowerCase();
}

// ------------------------------------------------------------------------------------ errors

const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

/** Map anything thrown to the one error shape: a stable code and a message without secrets. */
export function toCliError(e: unknown): { code: string; message: string } {
  if (isPocError(e)) return { code: e.code, message: e.message };
  const links = errorChain(e);
  const net = links.find((x) => NET_CODES.has(x.code) || NET_CODES.has(x.errno));
  if (net || isError(e, 'TIMEOUT') || (isError(e, 'UNKNOWN_ERROR') && /fetch failed|connect|socket/i.test(String((e as any).shortMessage ?? '') + String((e as any).error?.message ?? '')))) {
    const url = links.find((x) => typeof x.request?.url === 'string')?.request?.url;
    return { code: 'RPC_UNREACHABLE', message: `cannot reach the JSON-RPC endpoint${url ? ` ${url}` : ''} (${net?.code ?? 'no answer'}): is the node running? (--rpc, POCCHAIN_RPC)` };
  }
  if (nodeTimeout(e)) return { code: 'RPC_TIMEOUT', message: explainError(e) };
  const revert = decodeRevert(e);
  if (!revert && nodeFailure(e)) return { code: 'RPC_ERROR', message: explainError(e) };
  if (revert || isError(e, 'CALL_EXCEPTION')) return { code: 'TX_REVERTED', message: explainError(e) };
  if (isError(e, 'INSUFFICIENT_FUNDS')) return { code: 'INSUFFICIENT_FUNDS', message: explainError(e) };
  if ((e as any)?.code === 'commander.invalidArgument' || String((e as any)?.code ?? '').startsWith('commander.')) return { code: 'USAGE', message: String((e as Error).message).replace(/^error: /, '') };
  return { code: 'ERROR', message: explainError(e) };
}

/** Print an error in the one shape and exit 1. */
export function fail(e: unknown, json: boolean): never {
  const err = toCliError(e);
  if (json) process.stdout.write(JSON.stringify({ error: err }) + '\n');
  process.stderr.write(`error [${err.code}]: ${err.message}\n`);
  process.exit(1);
}

// ------------------------------------------------------------------------------------ action

/** What a command prints: `json` with --json, else `text`; `exitCode` (default 0) after printing. */
export interface Outcome {
  json: unknown;
  text: string;
  exitCode?: number;
  /** print `text` as is (e.g. a task's result bytes), without adding a final newline */
  raw?: boolean;
}

export const toJson = (v: unknown): string => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));

/** Progress for humans on stderr (never on stdout, which --json reserves). */
export function progress(o: Opts, line: string): void {
  if (!o.quiet) process.stderr.write(line + '\n');
}

/**
 * Wrap a command body. The body receives commander's arguments (positional args…, opts, command);
 * it returns an Outcome (printed, then the process exits) or nothing (a long-running command that
 * exits on its own). Errors: see `fail`.
 */
export function action(fn: (...args: any[]) => Promise<Outcome | void>) {
  return async (...args: any[]): Promise<void> => {
    const cmd = args[args.length - 1] as Command;
    const o: Opts = typeof cmd?.opts === 'function' ? cmd.opts() : (args[args.length - 2] ?? {});
    let r: Outcome | void;
    try {
      r = await fn(...args);
    } catch (e) {
      fail(e, !!o.json);
    }
    if (!r) return;
    const text = o.json ? toJson(r.json) : r.text;
    // exit only once stdout is flushed (a pipe may be slower than us)
    process.stdout.write(r.raw && !o.json ? text : text + '\n', () => process.exit(r.exitCode ?? 0));
  };
}
