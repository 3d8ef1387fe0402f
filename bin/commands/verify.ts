/**
 * `pocchain task verify <taskId>`: re-run a completed task here, in the executors' sandbox with
 * their limits, and compare the digest with the chain's result (executor/verify.ts). Trusting no
 * one: the app and dataset are checked against their hashes, the input and result come from the
 * Hub's state.
 *
 * Exit codes: 0 when the local run agrees; EXIT_MISMATCH (2) when it disagrees, with the full
 * report and `error.code` TASK_RESULT_MISMATCH (so a script can tell "the chain is wrong" from
 * "could not check", which exits 1 like every other failure: TASK_NOT_FINAL, TASK_NO_RESULT,
 * CONTENT_*, VERIFY_INCONCLUSIVE, RPC_UNREACHABLE).
 */
import type { Command } from 'commander';
import { hubContract } from '../../executor/hub-client.ts';
import { verifyTask, verdictLine, type VerifyErrorCode, type VerifyReport } from '../../executor/verify.ts';
import { closeSandbox } from '../../executor/sandbox.ts';
import { action, common, example, openProvider, parseInteger, rpcUrl, type Opts, type Outcome } from '../kit.ts';

/** Exit code of a verification that disagrees with the chain (1 is any other failure). */
export const EXIT_MISMATCH = 2;

/** What the command prints for a report (pure: the unit test checks it). */
export function verifyOutcome(r: VerifyReport): Outcome {
  const verdict = verdictLine(r);
  const l = r.limits;
  const lines = [
    verdict,
    `  app ${r.app}, dataset ${r.dataset ?? 'none'}, input ${r.inputBytes} bytes (keccak256 ${r.inputHash})`,
    `  sandbox of category ${r.category}: ${l.memoryPages} pages, ${l.timeoutMs} ms, ${l.maxOutputBytes} output bytes` + (r.outputBytes !== null ? `; ${r.outputBytes} bytes of output in ${r.durationMs} ms` : ''),
  ];
  if (r.agrees) return { json: r, text: lines.join('\n') };
  const code: VerifyErrorCode = 'TASK_RESULT_MISMATCH';
  return { json: { ...r, error: { code, message: verdict } }, text: lines.join('\n'), exitCode: EXIT_MISMATCH };
}

/** Register `task verify` on the `task` command group. */
export function registerVerifyCommand(task: Command): void {
  const c = task
    .command('verify <taskId>')
    .description('re-run a completed task locally (same sandbox and limits as the executors) and check the chain\'s result; exit 2 if it disagrees');
  example(common(c), 'pocchain task verify 7', 'pocchain task verify 7 --json');
  c.action(
    action(async (id: string, o: Opts): Promise<Outcome> => {
      const taskId = parseInteger(id, 'taskId', { min: 1n, max: 2n ** 64n });
      const url = rpcUrl(o);
      const provider = await openProvider(url);
      try {
        const out = verifyOutcome(await verifyTask({ hub: hubContract(provider), baseUrl: url, taskId }));
        // the kit's one error line, on stderr, after the report on stdout
        if (out.exitCode) process.stderr.write(`error [${(out.json as { error: { code: string } }).error.code}]: the executors that won task ${taskId} did not report what this workload computes\n`);
        return out;
      } finally {
        provider.destroy();
        await closeSandbox();
      }
    }),
  );
}
