/**
 * The block explorer, served by every node on its RPC port: `GET /` redirects to `/explorer/`,
 * which serves a small preact + htm app (no build step: ES modules and an import map, the
 * libraries served from the node's own node_modules). The pages read the node's JSON-RPC and
 * websocket on the same origin, and the pocchain_explorer* methods (api.ts) over the explorer's
 * own indices (indexer.ts). Only the files listed in FILES are served: no path from the URL ever
 * reaches the file system.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Genesis } from '../chain/genesis.ts';
import type { Chain } from '../chain/chain.ts';
import type { NodePlugin } from '../consensus/plugin.ts';
import { ExplorerIndex } from './indexer.ts';
import { createExplorerApi } from './api.ts';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
/** A package's folder (some do not export their package.json): up from its main file. */
function pkgDir(name: string): string {
  let d = dirname(require.resolve(name));
  while (!(existsSync(join(d, 'package.json')) && JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')).name === name)) {
    if (dirname(d) === d) throw new Error(`package ${name} not found`);
    d = dirname(d);
  }
  return d;
}

/** URL path under /explorer/ → [file, content type]. */
function files(): Record<string, [string, string]> {
  const js = 'text/javascript; charset=utf-8';
  return {
    '': [join(here, 'ui', 'index.html'), 'text/html; charset=utf-8'],
    'index.html': [join(here, 'ui', 'index.html'), 'text/html; charset=utf-8'],
    'app.js': [join(here, 'ui', 'app.js'), js],
    'rpc.js': [join(here, 'ui', 'rpc.js'), js],
    'style.css': [join(here, 'ui', 'style.css'), 'text/css; charset=utf-8'],
    'vendor/preact.js': [join(pkgDir('preact'), 'dist', 'preact.module.js'), js],
    'vendor/hooks.js': [join(pkgDir('preact'), 'hooks', 'dist', 'hooks.module.js'), js],
    'vendor/htm.js': [join(pkgDir('htm'), 'dist', 'htm.module.js'), js],
    'vendor/uplot.js': [join(pkgDir('uplot'), 'dist', 'uPlot.esm.js'), js],
    'vendor/uplot.css': [join(pkgDir('uplot'), 'dist', 'uPlot.min.css'), 'text/css; charset=utf-8'],
  };
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: 'not found: JSON-RPC is served by POST on /, the explorer at /explorer/' }));
}

export function createExplorerPlugin(genesis: Genesis): NodePlugin {
  let chain: Chain | undefined;
  let index: ExplorerIndex | undefined;
  let table: Record<string, [string, string]> | undefined;
  const cache = new Map<string, Buffer>();
  const need = <T>(v: T | undefined): T => {
    if (!v) throw new Error('explorer not started');
    return v;
  };

  const serve = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    table ??= files();
    const entry = Object.hasOwn(table, path.slice('/explorer/'.length)) ? table[path.slice('/explorer/'.length)] : undefined;
    if (!path.startsWith('/explorer/') || !entry) return notFound(res);
    let body = cache.get(path);
    if (!body) {
      body = readFileSync(entry[0]);
      cache.set(path, body);
    }
    res.writeHead(200, { 'content-type': entry[1], 'cache-control': 'no-cache' });
    res.end(body);
  };

  return {
    name: 'explorer',
    methods: createExplorerApi({ chain: () => need(chain), index: () => need(index), validators: genesis.validators }),
    routes: {
      '/explorer': (_req, res) => {
        res.writeHead(302, { location: '/explorer/' });
        res.end();
      },
      '/explorer/': serve,
      // '/' matches every GET path not routed before it (the server matches prefixes ending in
      // '/'), so only the bare root redirects and the rest keeps the server's 404
      '/': (req, res) => {
        if ((req.url ?? '/').split('?')[0] !== '/') return notFound(res);
        res.writeHead(302, { location: '/explorer/' });
        res.end();
      },
    },
    async start(ctx) {
      chain = ctx.chain;
      // catching up runs in the background: a node with a long chain starts serving at once
      index = new ExplorerIndex(join(ctx.datadir, 'explorer-index'), ctx.chain, ctx.logger);
      await index.start();
    },
    async stop() {
      await index?.stop();
    },
  };
}
