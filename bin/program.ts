/**
 * The `pocchain` program: every command, built with the CLI kit (bin/kit.ts). Exported so tests
 * can walk the command tree (every command has an example in its --help).
 */
import { Command, CommanderError } from 'commander';
import { registerNodeCommands } from './commands/node.ts';
import { registerCommands } from './plugins.ts';
import { fail } from './kit.ts';

/** Build the program (no side effects). Usage errors throw CommanderError (see run). */
export function createProgram(): Command {
  const program = new Command();
  program.name('pocchain').description('pocchain: an EVM sidechain for decentralized computing').showHelpAfterError('(run with --help for usage)').exitOverride();
  program.addHelpText('after', '\nExample:\n  $ pocchain balance --key-file me.key\n\nEvery command has --help with an example; shared options: --rpc, --l1-rpc, --key/--key-file, --json, --log-level\n(env POCCHAIN_RPC, POCCHAIN_L1_RPC, POCCHAIN_KEY; endpoints default to the running devnet).\n');
  registerNodeCommands(program);
  registerCommands(program);
  return program;
}

/** Run the CLI on argv; a usage error with --json prints {"error":{"code":"USAGE",…}} on stdout. */
export async function run(argv: string[]): Promise<void> {
  const json = argv.includes('--json');
  try {
    await createProgram().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) process.exit(0); // --help, --version
      if (json) process.stdout.write(JSON.stringify({ error: { code: 'USAGE', message: e.message.replace(/^error: /, '') } }) + '\n');
      process.exit(e.exitCode || 1);
    }
    fail(e, json);
  }
}
