/**
 * Where the upper layers plug into the CLI: node plugins (PoC system calls, bridge) built from the
 * node's config, and the commands of each layer (app/task/executor, bridge).
 */
import type { Command } from 'commander';
import type { Genesis } from '../chain/genesis.ts';
import type { NodePlugin } from '../consensus/plugin.ts';
import { createHubPlugin } from '../consensus/hub.ts';
import { PocError } from '../lib/errors.ts';
import { registerPocCommands } from './commands/poc.ts';
import { createBridgePlugin } from '../bridge/plugin.ts';
import { resolveBridgeConfig } from '../bridge/config.ts';
import { registerBridgeCommands } from './commands/bridge.ts';
import { registerDevnetCommand } from './commands/devnet.ts';
import { createExplorerPlugin } from '../explorer/plugin.ts';
import { registerAccountCommands } from './commands/account.ts';
import { registerValidatorCommands } from './commands/validator.ts';

export interface PluginEnv {
  genesis: Genesis;
  datadir: string;
  keysDir: string;
}

/** Plugins for `pocchain node`, from its resolved config (flags/env/file). */
export async function createPlugins(_config: Record<string, any>, _env: PluginEnv): Promise<NodePlugin[]> {
  const plugins: NodePlugin[] = [];
  const content = {
    ...(_config.contentQuota !== undefined ? { contentQuotaBytes: wholeNumber(_config.contentQuota, '--content-quota') } : {}),
    ...(_config.contentGrace !== undefined ? { contentGraceMs: wholeNumber(_config.contentGrace, '--content-grace') * 1000 } : {}),
  };
  plugins.push(createHubPlugin({ genesis: _env.genesis, datadir: _env.datadir, ...content })); // PoC: Hub system calls + content store
  plugins.push(createBridgePlugin(_env.genesis, resolveBridgeConfig(_config, _env.genesis))); // bridge: deposits, checkpoints
  plugins.push(createExplorerPlugin(_env.genesis)); // explorer: indices, pocchain_explorer*, GET / and /explorer/ (last: '/' catches the unrouted GETs)
  return plugins;
}

function wholeNumber(v: unknown, flag: string): number {
  if (!/^[0-9]+$/.test(String(v))) throw new PocError('CLI_BAD_FLAG', `${flag} must be a whole number, got ${JSON.stringify(v)}`);
  return Number(v);
}

/** Add the layers' subcommands to the CLI. */
export function registerCommands(_program: Command): void {
  registerPocCommands(_program); // executor, app/dataset publish/list, task submit/show/list
  registerAccountCommands(_program); // balance, withdraw (Hub credit)
  registerValidatorCommands(_program); // validator keys/stake/unstake/withdraw/unjail/status
  registerBridgeCommands(_program); // bridge deploy-l1/deposit/withdraw/status, relayer
  registerDevnetCommand(_program); // devnet: the whole system locally (npm start)
}
