// usage: node prof.mjs file.cpuprofile [topN]
import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const top = Number(process.argv[3] ?? 40);
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = p.timeDeltas; let total = 0;
const counts = new Map();
for (let i = 0; i < p.samples.length; i++) { const id = p.samples[i]; const d = dt[i] ?? 0; counts.set(id, (counts.get(id) ?? 0) + d); total += d; }
const pkg = (url) => { const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/); if (m) return m[1]; if (!url) return '(native/vm)'; const n = url.match(/\/work\/main\/([^/]+\/[^/]+)/); return n ? n[1] : url.slice(-40); };
const byFn = new Map(), byPkg = new Map();
let idle = 0;
for (const [id, t] of counts) {
  const n = byId.get(id); const cf = n.callFrame;
  if (cf.functionName === '(idle)' || cf.functionName === '(program)') { if (cf.functionName === '(idle)') idle += t; }
  const k = `${cf.functionName || '(anon)'} ${pkg(cf.url)}:${cf.lineNumber}`;
  byFn.set(k, (byFn.get(k) ?? 0) + t);
  const pk = cf.url ? pkg(cf.url) : cf.functionName;
  byPkg.set(pk, (byPkg.get(pk) ?? 0) + t);
}
const busy = total - idle;
console.log(`total ${(total/1e3).toFixed(0)} ms, idle ${(idle/1e3).toFixed(0)} ms, busy ${(busy/1e3).toFixed(0)} ms`);
console.log('--- by package (share of busy)');
for (const [k, t] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log((100 * t / busy).toFixed(1).padStart(6) + '%  ' + k);
console.log('--- by function (self)');
for (const [k, t] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log((100 * t / busy).toFixed(1).padStart(6) + '%  ' + k);
