import { useState } from 'preact/hooks';
import { get, post } from '../api.js';
import { Action, Empty, ErrorNote, Page, useResource } from '../components.js';
import { shortId } from '../format.js';
import type { UpdateOffer, Updates as UpdatesData } from '../types.js';
import type { PageProps } from '../main.js';

// `grove update` on a page: the running build and the builds peers offered (signed by a key
// in update.trusted_keys), each with Accept (`grove update --accept HASH`).

export function Updates(props: PageProps) {
  const u = useResource(() => get<UpdatesData>('/api/updates'), ['overview']);
  const [error, setError] = useState<string>();
  const [note, setNote] = useState<string>();
  const names = new Map(props.peers.map((p) => [p.id, p.name]));
  const accept = async (o: UpdateOffer) => {
    setError(undefined);
    const r = await post<{ restarting: boolean }>('/api/updates/accept', { hash: o.build_hash });
    setNote(r.restarting ? `Accepted ${o.version}: the cell restarts into it now.` : `Accepted ${o.version}: it is installed at the next start under \`grove watchdog\`.`);
    u.reload();
  };
  const d = u.data;
  return (
    <Page title="Updates">
      <ErrorNote error={u.error} onRetry={u.reload} />
      <ErrorNote error={error} />
      {note ? <p class="note ok" role="status" data-testid="update-note">{note}</p> : null}
      {d ? (
        <div class="card">
          <h2>Running</h2>
          <p>Version <b data-testid="update-current">{d.current.version}</b>, build <code title={d.current.build_hash ?? undefined}>{d.current.build_hash ? shortId(d.current.build_hash) : 'from a checkout'}</code>
            {d.supervised ? null : <span class="muted small"> (not under <code>grove watchdog</code>: an accepted build installs at its next start)</span>}</p>
        </div>
      ) : null}
      {d && !d.offers.length ? <Empty title="No update offered">No update offered. Builds signed by a key in update.trusted_keys appear here when a peer has one.</Empty> : null}
      {d?.offers.length ? (
        <div class="table-wrap">
          <table class="table" data-testid="update-offers">
            <thead><tr><th scope="col">Version</th><th scope="col">From</th><th scope="col">Signed by</th><th scope="col">State</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
            <tbody>
              {d.offers.map((o) => (
                <tr data-testid="update-offer">
                  <td>{o.version} <code class="muted" title={o.build_hash}>{shortId(o.build_hash)}</code></td>
                  <td title={o.from}>{names.get(o.from) ?? o.from}</td>
                  <td><code title={o.signed_by}>{shortId(o.signed_by)}</code></td>
                  <td><span class={`pill ${o.state === 'bad' ? 'bad' : o.state === 'installed' ? 'ok' : ''}`}>{o.state}</span>{o.reason ? <span class="muted small"> {o.reason}</span> : null}</td>
                  <td class="actions">
                    <Action kind="primary" small label={`Accept ${o.version}`} disabled={o.state === 'bad' || o.state === 'installed'} onRun={() => accept(o)} onError={setError}>Accept</Action>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </Page>
  );
}
