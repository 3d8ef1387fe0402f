// usage: node incl.mjs file.cpuprofile regex-of-root [top]  — inclusive times of functions under stacks matching root
import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const root = new RegExp(process.argv[3] ?? '.');
const top = Number(process.argv[4] ?? 40);
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (n) => `${n.callFrame.functionName || '(anon)'} ${(n.callFrame.url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1]) ?? n.callFrame.url.replace(/.*\/work\/main\//, '')}:${n.callFrame.lineNumber}`;
const incl = new Map(); let rootTotal = 0;
for (let i = 0; i < p.samples.length; i++) {
  const d = p.timeDeltas[i] ?? 0;
  const stack = []; let id = p.samples[i];
  while (id !== undefined) { stack.push(byId.get(id)); id = parent.get(id); }
  if (!stack.some((n) => root.test(name(n)))) continue;
  rootTotal += d;
  const seen = new Set();
  for (const n of stack) { const k = name(n); if (seen.has(k)) continue; seen.add(k); incl.set(k, (incl.get(k) ?? 0) + d); }
}
console.log(`under /${root.source}/: ${(rootTotal / 1e3).toFixed(0)} ms`);
for (const [k, t] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log((100 * t / rootTotal).toFixed(1).padStart(6) + '%  ' + k);
