// usage: node callers.mjs prof leafRegex depth — who calls the leaf (first frames outside the leaf's package)
import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const leaf = new RegExp(process.argv[3]); const depth = Number(process.argv[4] ?? 4);
const byId = new Map(p.nodes.map((n) => [n.id, n])); const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (n) => `${n.callFrame.functionName || '(anon)'} ${(n.callFrame.url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1]) ?? n.callFrame.url.replace(/.*\/work\/main\//, '')}:${n.callFrame.lineNumber}`;
const agg = new Map(); let tot = 0;
for (let i = 0; i < p.samples.length; i++) {
  const n0 = byId.get(p.samples[i]); if (!leaf.test(name(n0))) continue;
  const d = p.timeDeltas[i] ?? 0; tot += d;
  const st = []; let id = parent.get(n0.id);
  while (id !== undefined && st.length < 30) { st.push(name(byId.get(id))); id = parent.get(id); }
  const k = st.filter((x) => !/noble|\(root\)/.test(x)).slice(0, depth).join(' < ');
  agg.set(k, (agg.get(k) ?? 0) + d);
}
console.log(`leaf ${leaf.source}: ${(tot/1e3).toFixed(0)} ms`);
for (const [k, t] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log((100 * t / tot).toFixed(1).padStart(6) + '%  ' + k);
