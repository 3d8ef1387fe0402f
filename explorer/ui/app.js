// The explorer's pages (preact + htm, no build step). Hash routes: #/ latest blocks and txs,
// #/block/N, #/tx/H, #/address/A, #/validators, #/compute, #/task/ID, #/bridge. Every page reads
// the node's RPC: standard eth_* methods and pocchain_explorer* over the explorer's indices.
import { h, render } from 'preact';
import { useEffect, useState, useRef } from 'preact/hooks';
import htm from 'htm';
import uPlot from 'uplot';
import { call, batch, onNewHeads } from './rpc.js';

const html = htm.bind(h);
const hex = (n) => '0x' + BigInt(n).toString(16);
const num = (x) => (x === null || x === undefined ? '' : Number(BigInt(x)));
const short = (s, n = 10) => (s && s.length > 2 * n + 2 ? `${s.slice(0, n + 2)}…${s.slice(-n)}` : s);
const ether = (wei) => {
  const w = BigInt(wei ?? 0);
  const whole = w / 10n ** 18n;
  const frac = (w % 10n ** 18n).toString().padStart(18, '0').replace(/0+$/, '').slice(0, 6);
  return frac ? `${whole}.${frac}` : `${whole}`;
};
const ago = (ts) => {
  const s = Math.max(0, Math.floor(Date.now() / 1000) - num(ts));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.floor(s / 60)}m ago` : `${Math.floor(s / 3600)}h ago`;
};
const A = (a) => (a ? html`<a class="mono" href="#/address/${a}" data-kind="address">${short(a, 6)}</a>` : html`<span class="muted">—</span>`);
const TX = (t) => html`<a class="mono" href="#/tx/${t}" data-kind="tx">${short(t, 8)}</a>`;
const BLK = (n) => html`<a href="#/block/${num(n)}" data-kind="block">${num(n)}</a>`;
const TASK = (id) => html`<a href="#/task/${id}" data-kind="task">#${id}</a>`;

/** Load data for a page; reload when `deps` change or `tick` (new head) moves. */
function useData(fn, deps) {
  const [state, set] = useState({ loading: true });
  useEffect(() => {
    let live = true;
    fn().then((data) => live && set({ data }), (error) => live && set({ error }));
    return () => {
      live = false;
    };
  }, deps);
  return state;
}

function Show({ s, children }) {
  if (s.error) return html`<div class="error" data-testid="error">${String(s.error.message ?? s.error)}</div>`;
  if (s.loading && !s.data) return html`<p class="muted">loading…</p>`;
  return children(s.data);
}

function Chart({ blocks }) {
  const ref = useRef(null);
  useEffect(() => {
    if (!ref.current || blocks.length < 3) return;
    const asc = [...blocks].reverse();
    const xs = asc.slice(1).map((b) => num(b.number));
    const dt = asc.slice(1).map((b, i) => Math.max(0, num(b.timestamp) - num(asc[i].timestamp)));
    const tps = asc.slice(1).map((b, i) => b.transactions.length / Math.max(1, num(b.timestamp) - num(asc[i].timestamp)));
    const opts = { width: Math.min(1150, ref.current.clientWidth || 900), height: 180, scales: { x: { time: false } }, series: [{ label: 'block' }, { label: 'block time (s)', stroke: '#3b5bdb' }, { label: 'tx/s', stroke: '#2b8a3e' }], axes: [{}, {}] };
    const plot = new uPlot(opts, [xs, dt, tps], ref.current);
    return () => plot.destroy();
  }, [blocks]);
  return html`<div ref=${ref} data-testid="chart"></div>`;
}

function Home({ tick }) {
  const s = useData(async () => {
    const head = num(await call('eth_blockNumber'));
    const from = Math.max(0, head - 59);
    const nums = [];
    for (let n = head; n >= from; n--) nums.push(n);
    const blocks = (await batch(nums.map((n) => ['eth_getBlockByNumber', [hex(n), true]]))).filter((b) => b && !(b instanceof Error));
    const [status, chainId] = await batch([['pocchain_status', []], ['eth_chainId', []]]);
    return { head, blocks, status, chainId };
  }, [tick]);
  return html`<${Show} s=${s}>${(d) => {
    const txs = d.blocks.flatMap((b) => b.transactions.map((t) => ({ ...t, ts: b.timestamp }))).slice(0, 15);
    return html`
      <div class="cards">
        <div class="card"><div class="muted">height</div><div class="v" data-testid="height">${d.head}</div></div>
        <div class="card"><div class="muted">chain id</div><div class="v">${num(d.chainId)}</div></div>
        <div class="card"><div class="muted">peers</div><div class="v">${d.status?.peers ?? '—'}</div></div>
        <div class="card"><div class="muted">pending txs</div><div class="v">${d.status?.pendingTxs ?? '—'}</div></div>
      </div>
      <h2>Block time and tx/s (last ${d.blocks.length} blocks)</h2>
      <${Chart} blocks=${d.blocks} />
      <div class="grid">
        <div><h2>Latest blocks</h2>
          <table data-testid="latest-blocks"><tr><th>block</th><th>age</th><th>txs</th><th>gas used</th><th>proposer</th></tr>
            ${d.blocks.slice(0, 15).map((b) => html`<tr><td>${BLK(b.number)}</td><td>${ago(b.timestamp)}</td><td>${b.transactions.length}</td><td>${num(b.gasUsed)}</td><td>${A(b.miner)}</td></tr>`)}
          </table></div>
        <div><h2>Latest transactions</h2>
          <table data-testid="latest-txs"><tr><th>tx</th><th>from</th><th>to</th><th>value</th></tr>
            ${txs.map((t) => html`<tr><td>${TX(t.hash)}</td><td>${A(t.from)}</td><td>${A(t.to)}</td><td>${ether(t.value)}</td></tr>`)}
          </table></div>
      </div>`;
  }}<//>`;
}

function Block({ id }) {
  const s = useData(async () => {
    const [b, cons] = await batch([['eth_getBlockByNumber', [hex(id), true]], ['pocchain_getBlockConsensus', [hex(id)]]]);
    if (!b || b instanceof Error) throw new Error(`block ${id} not found`);
    return { b, cons: cons instanceof Error ? null : cons };
  }, [id]);
  return html`<${Show} s=${s}>${({ b, cons }) => html`
    <h2>Block <span data-testid="block-number">${num(b.number)}</span></h2>
    <table>
      <tr><th>hash</th><td class="mono">${b.hash}</td></tr>
      <tr><th>parent</th><td>${num(b.number) > 0 ? html`<a href="#/block/${num(b.number) - 1}" class="mono">${b.parentHash}</a>` : b.parentHash}</td></tr>
      <tr><th>time</th><td>${new Date(num(b.timestamp) * 1000).toISOString()} (${ago(b.timestamp)})</td></tr>
      <tr><th>proposer</th><td>${A(b.miner)}</td></tr>
      <tr><th>gas used / limit</th><td>${num(b.gasUsed)} / ${num(b.gasLimit)}</td></tr>
      <tr><th>base fee</th><td>${num(b.baseFeePerGas)} wei</td></tr>
      <tr><th>state root</th><td class="mono">${b.stateRoot}</td></tr>
      <tr><th>commit signers</th><td>${cons?.commit ? cons.commit.signers.join(', ') : '—'}</td></tr>
      <tr><th>bridge deposits</th><td data-testid="block-deposits">${cons?.deposits?.length ?? 0}</td></tr>
    </table>
    <h2>Transactions (${b.transactions.length})</h2>
    <table data-testid="block-txs"><tr><th>#</th><th>tx</th><th>from</th><th>to</th><th>value</th></tr>
      ${b.transactions.map((t, i) => html`<tr><td>${i}</td><td>${TX(t.hash)}</td><td>${A(t.from)}</td><td>${A(t.to)}</td><td>${ether(t.value)}</td></tr>`)}
    </table>`}<//>`;
}

function Tx({ id }) {
  const s = useData(async () => {
    const [t, r] = await batch([['eth_getTransactionByHash', [id]], ['eth_getTransactionReceipt', [id]]]);
    if (!t || t instanceof Error) throw new Error(`transaction ${id} not found`);
    const decoded = t.to ? await call('pocchain_explorerDecodeInput', [t.to, t.input]).catch(() => null) : null;
    return { t, r: r instanceof Error ? null : r, decoded };
  }, [id]);
  return html`<${Show} s=${s}>${({ t, r, decoded }) => html`
    <h2>Transaction</h2>
    <table>
      <tr><th>hash</th><td class="mono" data-testid="tx-hash">${t.hash}</td></tr>
      <tr><th>status</th><td data-testid="tx-status">${r ? (r.status === '0x1' ? html`<span class="ok">success</span>` : html`<span class="bad">failed</span>`) : 'pending'}</td></tr>
      <tr><th>block</th><td>${t.blockNumber ? BLK(t.blockNumber) : 'pending'}</td></tr>
      <tr><th>from</th><td>${A(t.from)}</td></tr>
      <tr><th>to</th><td>${t.to ? A(t.to) : r?.contractAddress ? html`created ${A(r.contractAddress)}` : '—'}</td></tr>
      <tr><th>value</th><td data-testid="tx-value">${ether(t.value)}</td></tr>
      <tr><th>nonce</th><td>${num(t.nonce)}</td></tr>
      <tr><th>gas used / limit</th><td>${r ? num(r.gasUsed) : '—'} / ${num(t.gas)}</td></tr>
      <tr><th>gas price paid</th><td>${r ? num(r.effectiveGasPrice) : '—'} wei</td></tr>
      <tr><th>input</th><td>${decoded ? html`<div data-testid="tx-decoded"><b>${decoded.contract}.${decoded.function}</b><pre>${JSON.stringify(decoded.args, null, 1)}</pre></div>` : html`<pre class="mono">${t.input}</pre>`}</td></tr>
    </table>
    <h2>Logs (${r?.logs.length ?? 0})</h2>
    <table data-testid="tx-logs"><tr><th>#</th><th>address</th><th>topics / data</th></tr>
      ${(r?.logs ?? []).map((l) => html`<tr><td>${num(l.logIndex)}</td><td>${A(l.address)}</td><td class="mono">${l.topics.map((x) => html`<div>${x}</div>`)}<div class="muted">${l.data}</div></td></tr>`)}
    </table>`}<//>`;
}

function AddressPage({ id, tick }) {
  const s = useData(async () => {
    const [bal, nonce, code, txs] = await batch([['eth_getBalance', [id, 'latest']], ['eth_getTransactionCount', [id, 'latest']], ['eth_getCode', [id, 'latest']], ['pocchain_explorerAddressTxs', [id, 25]]]);
    for (const x of [bal, nonce, code, txs]) if (x instanceof Error) throw x;
    return { bal, nonce, code, txs };
  }, [id, tick]);
  return html`<${Show} s=${s}>${(d) => html`
    <h2>Address <span class="mono">${id}</span></h2>
    <table>
      <tr><th>balance</th><td data-testid="addr-balance">${ether(d.bal)}</td></tr>
      <tr><th>nonce</th><td data-testid="addr-nonce">${num(d.nonce)}</td></tr>
      <tr><th>code</th><td>${d.code === '0x' ? 'none (account)' : html`contract, ${(d.code.length - 2) / 2} bytes`}</td></tr>
    </table>
    <h2>Recent transactions</h2>
    <table data-testid="addr-txs"><tr><th>tx</th><th>direction</th></tr>
      ${d.txs.map((t) => html`<tr><td>${t.dir === 'deposit' ? html`<span class="mono">${short(t.hash, 8)}</span>` : TX(t.hash)}</td><td>${t.dir}</td></tr>`)}
    </table>`}<//>`;
}

function Validators({ tick }) {
  const s = useData(() => call('pocchain_explorerValidators', [20]), [tick]);
  return html`<${Show} s=${s}>${(d) => html`
    <h2>Validators</h2>
    <table data-testid="validators"><tr><th>#</th><th>address</th><th>consensus key</th><th>power</th><th>signed (last ${d.window} blocks)</th></tr>
      ${d.validators.map((v) => html`<tr><td>${v.index}</td><td>${A(v.address)}</td><td class="mono">${short(v.pubKey, 8)}</td><td>${v.power}</td><td>${v.signed}</td></tr>`)}
    </table>`}<//>`;
}

function Compute({ tick }) {
  const s = useData(async () => {
    const [tasks, assets, executors] = await batch([['pocchain_explorerTasks', [25]], ['pocchain_explorerAssets', [25]], ['pocchain_explorerExecutors', []]]);
    for (const x of [tasks, assets, executors]) if (x instanceof Error) throw x;
    return { tasks, assets, executors };
  }, [tick]);
  return html`<${Show} s=${s}>${(d) => html`
    <h2>Tasks</h2>
    <table data-testid="tasks"><tr><th>task</th><th>status</th><th>requester</th><th>app</th><th>trust</th><th>contributions</th><th>escrow</th><th>block</th></tr>
      ${d.tasks.map((t) => html`<tr><td>${TASK(t.id)}</td><td data-testid="task-status">${t.status}</td><td>${A(t.requester)}</td><td class="mono">${short(t.app, 6)}</td><td>${t.trust}</td><td>${t.contributions}</td><td>${ether(t.escrow)}</td><td>${BLK(t.block)}</td></tr>`)}
    </table>
    <h2>Executors</h2>
    <table data-testid="executors"><tr><th>executor</th><th>stake</th><th>free stake</th><th>score</th></tr>
      ${d.executors.map((e) => html`<tr><td>${A(e.address)}</td><td>${ether(e.stake)}</td><td>${ether(e.freeStake)}</td><td>${e.score}</td></tr>`)}
    </table>
    <div class="grid">
      <div><h2>Apps</h2><table data-testid="apps"><tr><th>app</th><th>owner</th><th>price</th><th>uri</th></tr>
        ${d.assets.apps.map((a) => html`<tr><td class="mono">${short(a.args.app, 6)}</td><td>${A(a.args.owner)}</td><td>${ether(a.args.price)}</td><td class="mono">${a.args.uri}</td></tr>`)}</table></div>
      <div><h2>Datasets</h2><table data-testid="datasets"><tr><th>dataset</th><th>owner</th><th>price</th><th>uri</th></tr>
        ${d.assets.datasets.map((a) => html`<tr><td class="mono">${short(a.args.dataset, 6)}</td><td>${A(a.args.owner)}</td><td>${ether(a.args.price)}</td><td class="mono">${a.args.uri}</td></tr>`)}</table></div>
    </div>`}<//>`;
}

function Task({ id, tick }) {
  const s = useData(async () => {
    const t = await call('pocchain_explorerTask', [String(id)]);
    if (!t) throw new Error(`task ${id} not found`);
    return t;
  }, [id, tick]);
  return html`<${Show} s=${s}>${(t) => html`
    <h2>Task #${t.id}</h2>
    <table>
      <tr><th>status</th><td data-testid="task-detail-status">${t.status}</td></tr>
      <tr><th>requester</th><td>${A(t.requester)}</td></tr>
      <tr><th>app</th><td class="mono">${t.app}</td></tr>
      <tr><th>dataset</th><td class="mono">${t.dataset}</td></tr>
      <tr><th>trust / replicas</th><td>${t.trust} / ${t.minReplicas}..${t.maxReplicas}</td></tr>
      <tr><th>escrow</th><td>${ether(t.escrow)}</td></tr>
      <tr><th>callback</th><td>${A(t.callback)}</td></tr>
      <tr><th>consensus</th><td class="mono">${t.consensusHash}</td></tr>
      <tr><th>input</th><td class="mono">${t.input}</td></tr>
    </table>
    <h2>Contributors and votes</h2>
    <table data-testid="task-assignees"><tr><th>executor</th></tr>${t.assignees.map((a) => html`<tr><td>${A(a)}</td></tr>`)}</table>
    <table data-testid="task-votes"><tr><th>result hash</th><th>weight</th><th>members</th></tr>${t.votes.map((v) => html`<tr><td class="mono">${v.resultHash}</td><td>${v.weight}</td><td>${v.size}</td></tr>`)}</table>
    <h2>Events (assignments, contributions, payments)</h2>
    <table data-testid="task-events"><tr><th>block</th><th>event</th><th>details</th></tr>
      ${t.events.map((e) => html`<tr><td>${BLK(e.block)}</td><td>${e.name}</td><td class="mono">${Object.entries(e.args).filter(([k]) => k !== 'taskId').map(([k, v]) => `${k}=${v}`).join('  ')}</td></tr>`)}
    </table>`}<//>`;
}

function Bridge({ tick }) {
  const s = useData(async () => {
    const [info, status, lists, cp] = await batch([['pocchain_bridgeInfo', []], ['pocchain_bridgeStatus', []], ['pocchain_explorerBridge', [25]], ['pocchain_latestCheckpoint', []]]);
    if (lists instanceof Error) throw lists;
    return { info: info instanceof Error ? null : info, status: status instanceof Error ? null : status, lists, cp: cp instanceof Error ? null : cp };
  }, [tick]);
  return html`<${Show} s=${s}>${(d) => {
    const minted = BigInt(d.status?.mintedFromDeposits ?? 0);
    const burned = BigInt(d.status?.burnedByWithdrawals ?? 0);
    return html`
    <h2>Bridge</h2>
    <table>
      <tr><th>L1 chain</th><td>${d.info ? d.info.l1ChainId : 'no bridge configured'}</td></tr>
      <tr><th>L1 vault</th><td class="mono">${d.info?.vault ?? '—'}</td></tr>
      <tr><th>minted from deposits</th><td data-testid="bridge-minted">${ether(minted)}</td></tr>
      <tr><th>burned by withdrawals</th><td>${ether(burned)}</td></tr>
      <tr><th>supply invariant</th><td data-testid="bridge-invariant">bridged supply on the sidechain = minted − burned = ${ether(minted - burned)} (must equal the tokens locked in the L1 vault for this chain)</td></tr>
      <tr><th>latest checkpoint on L1</th><td data-testid="bridge-checkpoint">${d.cp ? html`height ${BLK(d.cp.height ?? d.cp.number ?? 0)}` : '—'}</td></tr>
    </table>
    <h2>Deposits</h2>
    <table data-testid="deposits"><tr><th>nonce</th><th>recipient</th><th>amount</th><th>block</th><th>L1 tx</th></tr>
      ${d.lists.deposits.map((e) => html`<tr><td>${e.args.nonce}</td><td>${A(e.args.recipient)}</td><td>${ether(e.args.amount)}</td><td>${BLK(e.block)}</td><td class="mono">${short(e.txHash, 8)}</td></tr>`)}
    </table>
    <h2>Withdrawals</h2>
    <table data-testid="withdrawals"><tr><th>block</th><th>tx</th><th>details</th></tr>
      ${d.lists.withdrawals.map((e) => html`<tr><td>${BLK(e.block)}</td><td>${TX(e.txHash)}</td><td class="mono">${Object.entries(e.args).map(([k, v]) => `${k}=${v}`).join('  ')}</td></tr>`)}
    </table>`;
  }}<//>`;
}

function Search() {
  const [q, setQ] = useState('');
  const [msg, setMsg] = useState('');
  const go = async (e) => {
    e.preventDefault();
    setMsg('');
    try {
      const r = await call('pocchain_explorerSearch', [q]);
      if (!r) return setMsg('nothing found');
      setQ('');
      location.hash = `#/${r.kind}/${r.id}`;
    } catch (err) {
      setMsg(err.message);
    }
  };
  return html`<form onSubmit=${go}><input data-testid="search" placeholder="block, tx hash, address or task #id" value=${q} onInput=${(e) => setQ(e.target.value)} /><button>search</button><span class="muted" data-testid="search-msg">${msg}</span></form>`;
}

function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  return { page: parts[0] || 'home', id: parts[1] };
}

function App() {
  const [r, setR] = useState(route());
  const [tick, setTick] = useState(0);
  const [head, setHead] = useState(null);
  useEffect(() => {
    const f = () => setR(route());
    addEventListener('hashchange', f);
    const stop = onNewHeads((hd) => {
      setHead(num(hd.number));
      setTick((t) => t + 1);
    });
    return () => {
      removeEventListener('hashchange', f);
      stop();
    };
  }, []);
  const pages = {
    home: () => html`<${Home} tick=${tick} />`,
    block: () => html`<${Block} id=${Number(r.id)} />`,
    tx: () => html`<${Tx} id=${r.id} />`,
    address: () => html`<${AddressPage} id=${r.id} tick=${tick} />`,
    validators: () => html`<${Validators} tick=${tick} />`,
    compute: () => html`<${Compute} tick=${tick} />`,
    task: () => html`<${Task} id=${r.id} tick=${tick} />`,
    bridge: () => html`<${Bridge} tick=${tick} />`,
  };
  const page = pages[r.page] ?? (() => html`<p>unknown page</p>`);
  return html`
    <header>
      <b>pocchain</b>
      <nav><a href="#/">blocks</a><a href="#/validators">validators</a><a href="#/compute">compute</a><a href="#/bridge">bridge</a></nav>
      <span class="muted">live head: <span data-testid="live-head">${head ?? '…'}</span></span>
      <${Search} />
    </header>
    <main data-page=${r.page}>${page()}</main>`;
}

render(html`<${App} />`, document.getElementById('app'));
