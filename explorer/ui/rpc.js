// JSON-RPC to the node that serves this page: HTTP POST for calls, one websocket for newHeads.
let nextId = 1;

export async function call(method, params = []) {
  const r = await fetch('/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }) });
  const j = await r.json();
  if (j.error) throw new Error(`${method}: ${j.error.message}`);
  return j.result;
}

/** Calls in one batch request; results in order (errors as Error values). */
export async function batch(calls) {
  if (calls.length === 0) return [];
  const body = calls.map(([method, params], i) => ({ jsonrpc: '2.0', id: i, method, params }));
  const r = await fetch('/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const j = await r.json();
  const out = new Array(calls.length);
  for (const x of j) out[x.id] = x.error ? new Error(x.error.message) : x.result;
  return out;
}

/** Subscribe to new heads; reconnects after a drop. Returns a stop function. */
export function onNewHeads(fn) {
  let ws;
  let stopped = false;
  const open = () => {
    ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`);
    ws.onopen = () => ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_subscribe', params: ['newHeads'] }));
    ws.onmessage = (m) => {
      const j = JSON.parse(m.data);
      if (j.method === 'eth_subscription') fn(j.params.result);
    };
    ws.onclose = () => {
      if (!stopped) setTimeout(open, 1000);
    };
  };
  open();
  return () => {
    stopped = true;
    ws?.close();
  };
}
