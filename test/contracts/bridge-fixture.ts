/**
 * Shared set-up for the bridge contract tests and the gas bench: an anvil, ethers wiring,
 * deterministic validator keys, and deployment of TestToken / Checkpoints / Vault / Bridge.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ContractFactory, JsonRpcProvider, keccak256, Network, SigningKey, toUtf8Bytes, type Contract, type JsonRpcSigner } from 'ethers';
import { loadArtifact } from '../../contracts/artifacts.ts';
import { startAnvil, type AnvilHandle } from '../../lib/anvil.ts';
import type { CheckpointView, HandoverView } from '../../bridge/checkpoint-signer.ts';
import {
  checkpointDigest,
  signDigest,
  sortValidatorSet,
  type Checkpoint,
  type CheckpointDomain,
  type ValidatorSet,
} from '../../bridge/checkpoint.ts';

export const SIDECHAIN_CHAIN_ID = 7777n;

export interface L1 {
  anvil: AnvilHandle;
  provider: JsonRpcProvider;
  signers: JsonRpcSigner[];
  stop(): Promise<void>;
}

/** Start anvil and connect ethers to it (anvil's unlocked dev accounts as signers). */
export async function startL1(): Promise<L1> {
  const anvil = await startAnvil();
  const provider = new JsonRpcProvider(anvil.url, Network.from(anvil.chainId), {
    staticNetwork: true,
    pollingInterval: 50,
    // ethers answers an identical request made within 250 ms from a cache by default: a balance
    // read or gas estimate right after a transaction would show the state before it.
    cacheTimeout: -1,
  });
  const signers = await Promise.all([0, 1, 2, 3, 4].map((i) => provider.getSigner(i)));
  return {
    anvil,
    provider,
    signers,
    stop: async () => {
      provider.destroy();
      await anvil.stop();
    },
  };
}

/** Deploy contract `name` from its artifact. */
export async function deploy(name: string, signer: JsonRpcSigner, ...args: unknown[]): Promise<Contract> {
  const a = loadArtifact(name);
  const c = await new ContractFactory(a.abi, a.bytecode, signer).deploy(...args);
  await c.waitForDeployment();
  return c as Contract;
}

/** `n` deterministic validator keys, sorted by address. */
export function validatorKeys(n: number, seed = 'validator'): SigningKey[] {
  const keys = Array.from({ length: n }, (_, i) => new SigningKey(keccak256(toUtf8Bytes(`${seed}-${i}`))));
  const set = sortValidatorSet(0n, keys.map((k) => ({ address: addressOf(k), power: 1n })));
  return set.validators.map((a) => keys.find((k) => addressOf(k) === a)!);
}

export function addressOf(k: SigningKey): string {
  return signDigest(k, '0x' + '00'.repeat(31) + '01').signer;
}

/** Deploy Checkpoints with `keys` at `powers`; returns the contract, its domain and its set. */
export async function deployCheckpoints(l1: L1, keys: SigningKey[], powers: bigint[]): Promise<{ checkpoints: Contract; domain: CheckpointDomain; set: ValidatorSet }> {
  const set = sortValidatorSet(0n, keys.map((k, i) => ({ address: addressOf(k), power: powers[i]! })));
  const checkpoints = await deploy('Checkpoints', l1.signers[0]!, SIDECHAIN_CHAIN_ID, set.validators, set.powers);
  const domain: CheckpointDomain = { l1ChainId: BigInt(l1.anvil.chainId), checkpoints: await checkpoints.getAddress(), sidechainChainId: SIDECHAIN_CHAIN_ID };
  return { checkpoints, domain, set };
}

/** A checkpoint with arbitrary but distinct roots for `height`. */
export function sampleCheckpoint(height: bigint, withdrawalsRoot = keccak256(toUtf8Bytes(`w${height}`))): Checkpoint {
  return { height, blockHash: keccak256(toUtf8Bytes(`b${height}`)), stateRoot: keccak256(toUtf8Bytes(`s${height}`)), withdrawalsRoot };
}

/** Signatures of `keys` over checkpoint `cp`. */
export function signAll(keys: SigningKey[], domain: CheckpointDomain, cp: Checkpoint) {
  const digest = checkpointDigest(domain, cp);
  return keys.map((k) => signDigest(k, digest));
}

/**
 * Assert that calling `method(...args)` on `c` is refused with custom error `name`, both as a call
 * (which decodes the error) and as a mined transaction (status 0; a fixed gas limit, so the
 * refusal is the contract's, not the gas estimate's). Returns the error's arguments.
 */
export async function expectRevert(c: Contract, method: string, args: unknown[], name: string, overrides: Record<string, unknown> = {}): Promise<unknown[]> {
  let caught: any;
  try {
    await c.getFunction(method).staticCall(...args, overrides);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught, `expected ${method} to revert with ${name}, but the call succeeded`);
  const data: string | undefined = caught.data ?? caught.info?.error?.data;
  const decoded = caught.revert ?? (data && data !== '0x' ? c.interface.parseError(data) : null);
  assert.equal(decoded?.name, name, `expected revert ${name}, got ${decoded?.name ?? caught.shortMessage ?? caught.message}`);

  const tx = await c.getFunction(method).send(...args, { ...overrides, gasLimit: 5_000_000n });
  const receipt = await tx.wait().catch((e: any) => e.receipt);
  assert.equal(receipt?.status, 0, `expected the ${method} transaction to fail on chain`);
  return [...decoded.args];
}

/** Move anvil's clock forward and mine a block. */
export async function increaseTime(l1: L1, seconds: number): Promise<void> {
  await l1.provider.send('evm_increaseTime', [seconds]);
  await l1.provider.send('evm_mine', []);
}

/** A fake sidechain node for the relayer: JSON-RPC on 127.0.0.1 serving what a test puts in it. */
export interface FakeSource {
  url: string;
  latest: CheckpointView | null;
  handovers: Map<number, HandoverView>;
  server: Server;
}

/** Start a fake source (pocchain_latestCheckpoint / pocchain_checkpoint / pocchain_handover). */
export async function fakeSource(): Promise<FakeSource> {
  const s: FakeSource = { url: '', latest: null, handovers: new Map(), server: undefined as unknown as Server };
  s.server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const { id, method, params } = JSON.parse(body);
      let result: unknown = null;
      if (method === 'pocchain_latestCheckpoint') result = s.latest;
      if (method === 'pocchain_checkpoint') result = s.latest && s.latest.checkpoint.height === params[0] ? s.latest : null;
      if (method === 'pocchain_handover') result = s.handovers.get(params[0]) ?? null;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id, result }));
    });
  });
  await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', () => r()));
  s.url = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
  return s;
}
