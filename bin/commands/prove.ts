/**
 * `pocchain task prove <taskId>`: a Merkle-Patricia proof of a completed task's result in the Hub's
 * storage, under the state root of a checkpoint L1 accepted (bridge/task-proof.ts), for
 * contracts/l1/TaskResults.sol. Optionally checks it with a verifier (eth_call, --verifier) and
 * sends it to a consumer contract on L1 (--submit, signed with --key).
 */
import type { Command } from 'commander';
import { Contract, Interface, Wallet } from 'ethers';
import { loadArtifact } from '../../contracts/artifacts.ts';
import { bridgeInfo } from '../../bridge/client.ts';
import { buildTaskProof, type TaskProof } from '../../bridge/task-proof.ts';
import { PocError } from '../../lib/errors.ts';
import { action, common, example, l1RpcUrl, openProvider, parseAddress, parseCount, parseInteger, rpcUrl, signingKey, type Opts, type Outcome } from '../kit.ts';

const verifierIface = new Interface(loadArtifact('TaskResults').abi);
const consumerIface = new Interface(loadArtifact('TaskResultConsumer').abi);

/** The verifier's typed refusal (e.g. ResultMismatch) from a reverted call, as a PocError. */
function refusal(e: unknown, iface: Interface, what: string): PocError {
  const data = (e as any)?.data ?? (e as any)?.info?.error?.data;
  const parsed = typeof data === 'string' ? (iface.parseError(data) ?? verifierIface.parseError(data)) : null;
  const name = parsed ? `${parsed.name}(${parsed.args.map(String).join(', ')})` : String((e as any)?.shortMessage ?? e);
  return new PocError('PROVE_REFUSED', `${what} refused the proof: ${name}`, { data: { error: parsed?.name ?? null }, cause: e });
}

const args = (p: TaskProof) => [BigInt(p.taskId), p.result, { ...p.checkpoint, height: BigInt(p.checkpoint.height) }, p.accountProof, p.statusProof, p.resultProof] as const;

/** Register `task prove` on the `task` command group. */
export function registerProveCommand(task: Command): void {
  const c = task
    .command('prove <taskId>')
    .description('Merkle-Patricia proof of a completed task\'s result under a state root checkpointed on L1 (for contracts/l1/TaskResults.sol)')
    .option('--checkpoints <address>', 'Checkpoints contract on L1 (default: from the sidechain node)')
    .option('--height <n>', 'prove against the checkpoint at this height (default: the newest on L1)')
    .option('--verifier <address>', 'check the proof with this TaskResults on L1 (eth_call)')
    .option('--submit <address>', 'send the proof to this consumer on L1 (accept(...), like TaskResultConsumer); needs --key');
  example(
    common(c, { l1Rpc: true, key: 'L1 sender (only with --submit)' }),
    'pocchain task prove 7 --json',
    'pocchain task prove 7 --verifier 0x<TaskResults> --submit 0x<consumer> --key-file l1.key',
  );
  c.action(
    action(async (id: string, o: Opts): Promise<Outcome> => {
      const taskId = parseInteger(id, 'taskId', { min: 1n, max: 2n ** 64n });
      const height = o.height !== undefined ? parseCount(o.height, '--height', 1) : undefined;
      const verifier = o.verifier ? parseAddress(o.verifier, '--verifier') : undefined;
      const consumer = o.submit ? parseAddress(o.submit, '--submit') : undefined;
      const key = consumer ? signingKey(o) : undefined; // a bad key fails before any network
      const sc = await openProvider(rpcUrl(o));
      const l1 = await openProvider(l1RpcUrl(o));
      try {
        const checkpoints = o.checkpoints ? parseAddress(o.checkpoints, '--checkpoints') : (await bridgeInfo(sc)).checkpoints;
        const proof = await buildTaskProof({ sidechain: sc, l1, checkpoints, taskId, ...(height !== undefined ? { height } : {}) });
        const out: Record<string, unknown> = { ...proof, checkpoints };
        const lines = [
          `task ${proof.taskId}: result ${proof.result}`,
          `  finalized in block ${proof.finalizedAt}, proven at checkpoint ${proof.checkpoint.height} (state root ${proof.checkpoint.stateRoot}, L1 Checkpoints ${checkpoints})`,
          `  Hub ${proof.hub}: status slot ${proof.slots.status}, result slot ${proof.slots.result}`,
          `  proof: ${proof.accountProof.length} account nodes, ${proof.statusProof.length} + ${proof.resultProof.length} storage nodes (--json prints them)`,
        ];
        if (verifier) {
          const v = new Contract(verifier, verifierIface, l1);
          try {
            await v.getFunction('verify').staticCall(...args(proof));
          } catch (e) {
            throw refusal(e, verifierIface, `verifier ${verifier}`);
          }
          out.verified = { verifier };
          lines.push(`  accepted by verifier ${verifier}`);
        }
        if (consumer) {
          const w = new Wallet(key!, l1);
          const k = new Contract(consumer, consumerIface, w);
          try {
            await k.getFunction('accept').staticCall(...args(proof));
          } catch (e) {
            throw refusal(e, consumerIface, `consumer ${consumer}`);
          }
          const r = await (await k.getFunction('accept').send(...args(proof))).wait();
          if (!r || r.status !== 1) throw new PocError('TX_REVERTED', `accept(${proof.taskId}) reverted on L1`);
          out.submitted = { to: consumer, tx: r.hash, l1Block: r.blockNumber, gasUsed: r.gasUsed.toString() };
          lines.push(`  accepted by consumer ${consumer} in L1 tx ${r.hash} (block ${r.blockNumber}, gas ${r.gasUsed})`);
        }
        return { json: out, text: lines.join('\n') };
      } finally {
        sc.destroy();
        l1.destroy();
      }
    }),
  );
}
