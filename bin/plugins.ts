/**
 * Where the upper layers plug into the CLI: node plugins (PoC system calls, bridge) built from the
 * node's config, and the commands of each layer (app/task/executor, bridge).
 */
import type { Command } from 'commander';
import type { Genesis } from '../chain/genesis.ts';
import type { NodePlugin } from '../consensus/plugin.ts';

export interface PluginEnv {
  genesis: Genesis;
  datadir: string;
  keysDir: string;
}

/** Plugins for `pocchain node`, from its resolved config (flags/env/file). */
export async function createPlugins(_config: Record<string, any>, _env: PluginEnv): Promise<NodePlugin[]> {
  return [];
}

/** Add the layers' subcommands to the CLI. */
export function registerCommands(_program: Command): void {}
