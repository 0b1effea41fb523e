import { useState } from 'preact/hooks';
import { get, post } from '../api.js';
import { Action, CopyButton, Empty, ErrorNote, Page, message, useResource } from '../components.js';
import { ago, percent, shortId } from '../format.js';
import type { NearbyCell, PeerView } from '../types.js';
import type { PageProps } from '../main.js';

export function Peers(props: PageProps) {
  const [error, setError] = useState<string>();
  return (
    <Page title="Peers" actions={<Action onRun={() => post('/api/peers/probe')} onError={setError}>Check now</Action>}>
      <ErrorNote error={error} />
      <div class="pairing">
        <Invite />
        <Pair />
      </div>
      {!props.peers.length ? <Empty title="No peers yet">Create an invite code here and enter it on another cell (or run <code>grove pair CODE</code> there). Paired cells keep copies of each other's encrypted chunks.</Empty> : null}
      {props.peers.map((p) => <PeerCard p={p} onError={setError} />)}
      <Nearby />
    </Page>
  );
}

// Cells seen on the local network (mDNS) that are not paired. Shown only: pairing still
// takes an invite code, never a click here.
function Nearby() {
  const n = useResource(() => get<{ nearby: NearbyCell[]; enabled: boolean }>('/api/peers/nearby'), ['peers']);
  if (!n.data?.nearby.length) return <ErrorNote error={n.error} />;
  return (
    <section class="card" aria-labelledby="nearby-title" data-testid="nearby">
      <h2 id="nearby-title">Nearby on your network (not paired)</h2>
      <p class="muted small">To pair with one, create an invite code above and enter it on that cell (or run <code>grove pair CODE</code> there). Names are chosen by those cells: check before you pair.</p>
      <ul class="plain">
        {n.data.nearby.map((c) => (
          <li data-testid="nearby-cell"><b>{c.name}</b> <code title={c.id}>{shortId(c.id)}</code> <span class="muted small">{c.addresses.join(', ')}</span></li>
        ))}
      </ul>
    </section>
  );
}

function PeerCard(props: { p: PeerView; onError: (m: string) => void }) {
  const { p } = props;
  return (
    <article class="card peer" data-testid="peer" aria-label={`Peer ${p.name}`}>
      <header class="peer-head">
        <span class={`dot ${p.online ? 'up' : 'down'}`} aria-hidden="true" />
        <h2>{p.name}</h2>
        <code title={p.id}>{shortId(p.id)}</code>
        <span class={`pill ${p.online ? 'ok' : ''}`} data-testid="peer-state">{p.online ? 'online' : 'offline'}</span>
        <span class="muted">uptime {percent(p.uptime)}</span>
        <span class="grow" />
        <Action kind={p.preferred ? 'primary' : 'quiet'} onError={props.onError} label={p.preferred ? `Stop preferring ${p.name}` : `Prefer ${p.name}`}
          onRun={() => post(`/api/peers/${encodeURIComponent(p.id)}/prefer`, { on: !p.preferred })}>{p.preferred ? '★ Preferred' : '☆ Prefer'}</Action>
      </header>
      <div class="table-wrap">
        <table class="table routes">
          <thead><tr><th scope="col">Route</th><th scope="col">Kind</th><th scope="col" class="num">Latency</th><th scope="col" class="num">Throughput</th><th scope="col" class="num">Score</th><th scope="col">Last seen</th></tr></thead>
          <tbody>
            {p.routes.map((r) => (
              <tr data-testid="route">
                <td><code>{r.url}</code>{r.url === p.best_route ? <span class="pill ok small">best</span> : null}</td>
                <td>{r.kind}</td>
                <td class="num">{r.latency_ms === null ? '—' : `${r.latency_ms.toFixed(1)} ms`}</td>
                <td class="num">{r.throughput_MBps === null ? '—' : `${r.throughput_MBps.toFixed(1)} MB/s`}</td>
                <td class="num">{r.score === null ? '—' : r.score.toFixed(1)}</td>
                <td>{ago(r.last_seen)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </article>
  );
}

function Invite() {
  const [code, setCode] = useState<string>();
  const [error, setError] = useState<string>();
  return (
    <div class="card">
      <h2>Invite a cell</h2>
      <p class="muted small">A single-use code, valid for a day. Enter it on the other cell.</p>
      {code ? (
        <div class="code-box">
          <label for="invite-code" class="sr">Invite code</label>
          <textarea id="invite-code" readOnly rows={3} value={code} data-testid="invite-code" onFocus={(e) => (e.target as HTMLTextAreaElement).select()} />
          <CopyButton text={code} label="Copy the invite code" />
        </div>
      ) : null}
      <Action kind={code ? 'quiet' : 'primary'} onError={setError} onRun={async () => setCode((await post<{ code: string }>('/api/invite')).code)}>{code ? 'New code' : 'Create invite code'}</Action>
      <ErrorNote error={error} />
    </div>
  );
}

function Pair() {
  const [code, setCode] = useState('');
  const [error, setError] = useState<string>();
  const [done, setDone] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const r = await post<{ name: string }>('/api/pair', { code: code.trim() });
      setDone(`Paired with ${r.name}.`);
      setCode('');
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card" onSubmit={submit}>
      <h2>Join with a code</h2>
      <label for="pair-code">Invite code from the other cell</label>
      <textarea id="pair-code" rows={3} value={code} onInput={(e) => setCode((e.target as HTMLTextAreaElement).value)} placeholder="grove1…" data-testid="pair-code" />
      <button class="btn primary" type="submit" disabled={busy || !code.trim()}>{busy ? 'Pairing…' : 'Pair'}</button>
      {done ? <p class="note ok" role="status" data-testid="pair-done">{done}</p> : null}
      <ErrorNote error={error} />
    </form>
  );
}
