import { useEffect, useState } from 'preact/hooks';
import { get, post } from '../api.js';
import { Action, CopyButton, ErrorNote, Page, useResource } from '../components.js';
import { ago, bytes, duration, when } from '../format.js';
import type { Overview as OverviewData, RoundSummary } from '../types.js';
import type { PageProps } from '../main.js';

export function Overview(_props: PageProps) {
  const o = useResource(() => get<OverviewData>('/api/overview'), ['overview', 'sync', 'files', 'peers']);
  const [syncError, setSyncError] = useState<string>();
  const [, tick] = useState(0);
  useEffect(() => {
    // Relative times ("2 min ago") age on screen; the data itself comes by live events.
    const t = setInterval(() => tick((n) => n + 1), 30_000);
    return () => clearInterval(t);
  }, []);
  const d = o.data;
  const syncNow = async () => {
    setSyncError(undefined);
    await post<RoundSummary>('/api/sync');
    o.reload();
  };
  return (
    <Page title="Overview" actions={<Action kind="primary" onRun={syncNow} onError={setSyncError} disabled={d?.sync.busy} testid="sync-now">{d?.sync.busy ? 'Syncing…' : 'Sync now'}</Action>}>
      <ErrorNote error={o.error} onRetry={o.reload} />
      <ErrorNote error={syncError} />
      {d ? (
        <>
          <div class="card identity">
            <div>
              <div class="label">Cell</div>
              <div class="value big" data-testid="cell-name">{d.name}</div>
            </div>
            <div class="grow">
              <div class="label">Cell ID</div>
              <div class="id-line"><code data-testid="cell-id">{d.id}</code><CopyButton text={d.id} label="Copy the cell ID" /></div>
            </div>
          </div>
          <div class="stats">
            <Stat label="Uptime" value={duration(d.uptime_s)} />
            <Stat label="Storage used" value={bytes(d.bytes)} sub={`${d.objects.toLocaleString()} objects`} />
            <Stat label="Files" value={d.files.toLocaleString()} sub={<a href="#/files">Open files</a>} />
            <Stat label="At risk" value={d.at_risk.toLocaleString()} sub={d.at_risk ? 'objects below the replication factor' : 'every object has its copies'} tone={d.at_risk ? 'warn' : 'ok'} />
            <Stat label="Peers" value={String(d.peers)} sub={<a href="#/peers">{d.peers ? 'Manage peers' : 'Pair a cell'}</a>} />
          </div>
          <div class="card">
            <h2>Sync</h2>
            <dl class="facts">
              <dt>Last round</dt>
              <dd data-testid="last-sync">{d.sync.last ? `${ago(d.sync.last.finished_at)} (${when(d.sync.last.finished_at)})` : 'none yet since the cell started'}</dd>
              <dt>Result</dt>
              <dd>{d.sync.last ? summary(d.sync.last) : '—'}</dd>
              <dt>Next round</dt>
              <dd>{d.sync.busy ? 'running now' : d.sync.next_at ? `${ago(d.sync.next_at)} (${when(d.sync.next_at)})` : 'not scheduled'}</dd>
            </dl>
            {d.sync.last?.errors.length ? (
              <ul class="errors">{d.sync.last.errors.map((e) => <li>{e.step}{e.peer ? ` (${e.peer.slice(0, 8)})` : ''}: {e.error}</li>)}</ul>
            ) : null}
          </div>
        </>
      ) : o.loading ? <p class="muted">Loading…</p> : null}
    </Page>
  );
}

function summary(s: RoundSummary): string {
  const errs = s.error_count ?? s.errors.length;
  return `reached ${s.peers_reached} of ${s.peers_total} peers · pushed ${s.pushed} · pulled ${s.pulled} · healed ${s.healed} · ${bytes(s.bytes_sent)} sent · ${errs ? `${errs} error${errs > 1 ? 's' : ''}` : 'no errors'}`;
}

function Stat(props: { label: string; value: string; sub?: preact.ComponentChildren; tone?: 'ok' | 'warn' }) {
  return (
    <div class={`card stat ${props.tone ?? ''}`}>
      <div class="label">{props.label}</div>
      <div class="value">{props.value}</div>
      {props.sub ? <div class="sub">{props.sub}</div> : null}
    </div>
  );
}
