/**
 * The dApp example end to end, with ethers only: compile ComputeConsumer.sol (solc-js), deploy it,
 * publish a WebAssembly app to the Hub (content + registerApp) unless it is there, request a
 * computation through the contract, wait for the Hub's callback, print the agreed result.
 *
 *   npm start                                   # the devnet, in another terminal
 *   npm run examples                            # builds examples/build/echo.wasm
 *   POCCHAIN_KEY=0x<a dev key printed by npm start> node examples/dapp/run.ts --input "hello"
 *
 * Flags: --rpc <url> (default http://127.0.0.1:8545), --wasm <file> (default examples/build/
 * echo.wasm), --input <text>, --replicas <n> (default 3), --trust <n> (default 5),
 * --price <ether> (default 0.3), --timeout <s> (default 180), --json.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import solc from 'solc';
import { Contract, ContractFactory, JsonRpcProvider, Wallet, ZeroAddress, hexlify, keccak256, parseEther, toUtf8String } from 'ethers';

const here = dirname(fileURLToPath(import.meta.url));
const HUB = '0x0000000000000000000000000000000000001001';
const HUB_ABI = [
  'function getApp(bytes32 app) view returns (tuple(address owner, uint8 category, uint256 price, string uri))',
  'function registerApp(bytes32 app, uint256 price, uint8 category, string uri)',
  'function getTask(uint256 taskId) view returns (tuple(address requester, uint8 status, uint8 category, uint8 minReplicas, uint8 maxReplicas, uint32 trust, uint16 assignedCount, uint16 contributedCount, uint16 roundOpen, uint16 winnerCount, uint16 revealCount, uint64 createdAt, uint64 contributionDeadline, uint64 revealDeadline, uint64 finalDeadline, uint64 roundExpiry, address callback, bytes32 app, bytes32 dataset, uint256 escrow, uint256 appFee, uint256 datasetFee, uint256 total, uint256 bestGroup, bytes32 consensusHash, bytes32 result))',
];

/** Compile the example contract (no toolchain to install: solc-js is an npm package). */
export function compile(): { abi: any[]; bytecode: string } {
  const input = { language: 'Solidity', sources: { 'ComputeConsumer.sol': { content: readFileSync(join(here, 'ComputeConsumer.sol'), 'utf8') } }, settings: { evmVersion: 'cancun', optimizer: { enabled: true, runs: 200 }, outputSelection: { '*': { ComputeConsumer: ['abi', 'evm.bytecode.object'] } } } };
  const out = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (out.errors ?? []).filter((e: { severity: string }) => e.severity === 'error');
  if (errors.length) throw new Error(errors.map((e: { formattedMessage: string }) => e.formattedMessage).join('\n'));
  const c = out.contracts['ComputeConsumer.sol'].ComputeConsumer;
  return { abi: c.abi, bytecode: '0x' + c.evm.bytecode.object };
}

async function main(): Promise<void> {
  const { values: o } = parseArgs({
    options: {
      rpc: { type: 'string', default: 'http://127.0.0.1:8545' },
      wasm: { type: 'string', default: join(here, '..', 'build', 'echo.wasm') },
      input: { type: 'string', default: 'hello from a dApp' },
      replicas: { type: 'string', default: '3' },
      trust: { type: 'string', default: '5' },
      price: { type: 'string', default: '0.3' },
      timeout: { type: 'string', default: '180' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (o.help) {
    process.stdout.write('usage: POCCHAIN_KEY=0x... node examples/dapp/run.ts [--rpc URL] [--wasm FILE] [--input TEXT] [--replicas N] [--trust N] [--price ETH] [--timeout S] [--json]\n');
    return;
  }
  const key = process.env.POCCHAIN_KEY;
  if (!key) throw new Error('set POCCHAIN_KEY to a funded key (npm start prints the dev keys)');
  const say = (s: string) => !o.json && process.stderr.write(s + '\n');
  const provider = new JsonRpcProvider(o.rpc, undefined, { cacheTimeout: -1, pollingInterval: 250 });
  try {
    const wallet = new Wallet(key, provider);
    const hub = new Contract(HUB, HUB_ABI, wallet);

    // 1. the app: its bytes in the node's content store, its hash registered in the Hub
    const wasm = readFileSync(o.wasm!);
    const app = keccak256(wasm);
    await provider.send('pocchain_putContent', [hexlify(wasm)]);
    if ((await hub.getApp!(app)).owner === ZeroAddress) await (await hub.registerApp!(app, 0n, 0, '')).wait();
    say(`app ${app}`);

    // 2. the dApp contract
    const { abi, bytecode } = compile();
    const consumer = await (await new ContractFactory(abi, bytecode, wallet).deploy()).waitForDeployment();
    const address = await consumer.getAddress();
    say(`ComputeConsumer deployed at ${address}`);

    // 3. request: the contract calls Hub.requestTask with itself as the callback
    const replicas = BigInt(o.replicas!);
    const rc = await (await (consumer as any).compute(app, hexlify(new TextEncoder().encode(o.input!)), BigInt(o.trust!), replicas, { value: parseEther(o.price!) })).wait();
    const ev = rc.logs.map((l: any) => { try { return consumer.interface.parseLog(l); } catch { return null; } }).find((x: any) => x?.name === 'Requested');
    const taskId: bigint = ev.args.taskId;
    say(`task ${taskId} requested in block ${rc.blockNumber}; waiting for ${replicas} executors to agree…`);

    // 4. wait for the Hub's callback into the contract
    const deadline = Date.now() + Number(o.timeout) * 1000;
    let digest = '0x' + '00'.repeat(32);
    while (digest === '0x' + '00'.repeat(32)) {
      if (Date.now() > deadline) throw new Error(`task ${taskId}: no result after ${o.timeout}s (status ${(await hub.getTask!(taskId)).status})`);
      await new Promise((r) => setTimeout(r, 500));
      digest = await (consumer as any).results(taskId);
    }
    // 5. the result bytes: the executors stored them in the node's content store under the digest
    const res = await fetch(`${o.rpc.replace(/\/$/, '')}/content/${digest}`);
    const bytes = res.ok ? new Uint8Array(await res.arrayBuffer()) : null;
    const verified = bytes !== null && keccak256(bytes) === digest;
    const text = verified ? toUtf8String(bytes!) : null;
    if (o.json) process.stdout.write(JSON.stringify({ app, contract: address, taskId: taskId.toString(), digest, result: text, verified }) + '\n');
    else process.stdout.write(`task ${taskId} result: ${text ?? `(digest ${digest}, bytes not on this node)`}\n`);
  } finally {
    provider.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
