import { useEffect, useRef, useState } from 'preact/hooks';
import { get, post, upload } from '../api.js';
import { Action, Empty, ErrorNote, Page, message, useResource } from '../components.js';
import { bytes, shortId, when } from '../format.js';
import type { FileRow, FilesPage, FileVersion, PeerView } from '../types.js';
import type { PageProps } from '../main.js';

const PAGE = 100;

interface Upload { id: number; name: string; sent: number; total: number; state: 'sending' | 'storing' | 'done' | 'failed'; error?: string }

export function Files(props: PageProps) {
  const [filter, setFilter] = useState('');
  const [query, setQuery] = useState('');
  const [offset, setOffset] = useState(0);
  useEffect(() => {
    const t = setTimeout(() => {
      setQuery(filter.trim());
      setOffset(0);
    }, 120);
    return () => clearTimeout(t);
  }, [filter]);
  const files = useResource(() => get<FilesPage>(`/api/files?q=${encodeURIComponent(query)}&offset=${offset}&limit=${PAGE}`), ['files'], [query, offset]);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [open, setOpen] = useState<{ path: string; what: 'share' | 'history' } | undefined>();
  const input = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);
  const nextId = useRef(1);

  const send = async (list: FileList | File[]) => {
    for (const f of Array.from(list)) {
      const id = nextId.current++;
      const set = (u: Partial<Upload>) => setUploads((all) => all.map((x) => (x.id === id ? { ...x, ...u } : x)));
      setUploads((all) => [...all.filter((x) => x.state !== 'done'), { id, name: f.name, sent: 0, total: f.size, state: 'sending' }]);
      try {
        await upload(f, (sent, total) => set({ sent, total, state: sent >= total ? 'storing' : 'sending' }));
        set({ state: 'done', sent: f.size });
      } catch (e) {
        set({ state: 'failed', error: message(e) });
      }
    }
    files.reload();
  };
  const names = new Map(props.peers.map((p) => [p.id, p.name]));
  const d = files.data;
  return (
    <Page title="Files" actions={
      <>
        <input ref={input} type="file" multiple class="hidden-input" id="upload-input" aria-label="Choose files to upload"
          onChange={(e) => {
            const el = e.target as HTMLInputElement;
            if (el.files?.length) void send(el.files);
            el.value = '';
          }} />
        <button type="button" class="btn primary" onClick={() => input.current?.click()}>Upload files</button>
      </>
    }>
      <div class={`dropzone ${dragging ? 'over' : ''}`}
        onDragOver={(e) => { e.preventDefault(); setDragging(true); }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => { e.preventDefault(); setDragging(false); if (e.dataTransfer?.files.length) void send(e.dataTransfer.files); }}>
        <div class="toolbar">
          <label class="filter">
            <span class="sr">Filter files</span>
            <input type="search" placeholder="Filter by name or path" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} data-testid="files-filter" />
          </label>
          <span class="muted" data-testid="files-count">{d ? `${d.total.toLocaleString()} file${d.total === 1 ? '' : 's'}` : ''}</span>
        </div>
        {uploads.length ? (
          <ul class="uploads" aria-label="Uploads">
            {uploads.map((u) => (
              <li key={u.id} class={u.state} data-testid="upload">
                <span class="name">{u.name}</span>
                <progress max={u.total || 1} value={u.state === 'sending' ? u.sent : u.total || 1} aria-label={`Upload of ${u.name}`} />
                <span class="muted">{u.state === 'sending' ? `${bytes(u.sent)} of ${bytes(u.total)}` : u.state === 'storing' ? 'encrypting and storing…' : u.state === 'done' ? 'stored' : u.error}</span>
              </li>
            ))}
          </ul>
        ) : null}
        <ErrorNote error={files.error} onRetry={files.reload} />
        {d && d.total === 0 && !query ? <Empty title="No files yet">Drop files here, use <b>Upload files</b>, or run <code>grove add PATH</code>. They are encrypted before they are stored.</Empty> : null}
        {d && d.total === 0 && query ? <Empty title={`No file matches “${query}”`}>Try a shorter part of the name.</Empty> : null}
        {d?.files.length ? (
          <div class="table-wrap">
            <table class="table files" data-testid="files-table">
              <thead><tr>
                <th scope="col">Name</th><th scope="col" class="num">Size</th><th scope="col" class="num hide-narrow">Versions</th>
                <th scope="col">Copies</th><th scope="col" class="hide-narrow">Held by</th><th scope="col" class="hide-narrow">Added</th><th scope="col"><span class="sr">Actions</span></th>
              </tr></thead>
              <tbody>
                {d.files.map((f) => (
                  <FileLine key={f.path} f={f} names={names} peers={props.peers} open={open?.path === f.path ? open.what : undefined}
                    setOpen={(what) => setOpen(what ? { path: f.path, what } : undefined)} onChanged={files.reload} />
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        {d && d.total > PAGE ? (
          <nav class="pager" aria-label="Pages of files">
            <button type="button" class="btn small" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>Previous</button>
            <span>{(offset + 1).toLocaleString()}–{Math.min(d.total, offset + PAGE).toLocaleString()} of {d.total.toLocaleString()}</span>
            <button type="button" class="btn small" disabled={offset + PAGE >= d.total} onClick={() => setOffset(offset + PAGE)}>Next</button>
          </nav>
        ) : null}
      </div>
    </Page>
  );
}

function FileLine(props: { f: FileRow; names: Map<string, string>; peers: PeerView[]; open: 'share' | 'history' | undefined; setOpen: (w: 'share' | 'history' | undefined) => void; onChanged: () => void }) {
  const { f } = props;
  const tone = f.copies >= f.desired ? 'ok' : f.copies === 0 ? 'bad' : 'warn';
  const holders = f.holders.map((h) => props.names.get(h) ?? shortId(h)).join(', ');
  const [error, setError] = useState<string>();
  const remove = async () => {
    // Every version of this one file (as `grove delete PATH`); it can be undeleted within delete.grace_s.
    if (!confirm(`Delete ${f.name} (all ${f.versions} version${f.versions === 1 ? '' : 's'})? It stays in the trash for a while (grove undelete brings it back).`)) return;
    setError(undefined);
    await post('/api/files/delete', { path: f.path });
    props.onChanged();
  };
  return (
    <>
      <tr data-testid="file-row">
        <td class="name" title={f.path}>{f.name}{f.shared_with.length ? <span class="pill small" title="Shared">shared</span> : null}</td>
        <td class="num">{bytes(f.size)}</td>
        <td class="num hide-narrow">{f.versions}</td>
        <td><span class={`pill ${tone}`} title={`${f.copies} of ${f.desired} peer copies`}>{f.copies}/{f.desired}</span></td>
        <td class="hide-narrow">{holders || <span class="muted">only here</span>}</td>
        <td class="hide-narrow">{when(f.added_at)}</td>
        <td class="actions">
          <a class="btn small" href={`/api/files/download?manifest=${f.manifest_hash}`} download={f.name} aria-label={`Download ${f.name}`}>Download</a>
          <button type="button" class="btn small quiet" aria-expanded={props.open === 'share'} onClick={() => props.setOpen(props.open === 'share' ? undefined : 'share')} aria-label={`Share ${f.name}`}>Share</button>
          <button type="button" class="btn small quiet" aria-expanded={props.open === 'history'} onClick={() => props.setOpen(props.open === 'history' ? undefined : 'history')} aria-label={`Versions of ${f.name}`}>History</button>
          <Action kind="danger" small label={`Delete ${f.name}`} onRun={remove} onError={setError} testid="file-delete">Delete</Action>
        </td>
      </tr>
      {error ? <tr class="detail"><td colSpan={7}><ErrorNote error={error} /></td></tr> : null}
      {props.open === 'share' ? <tr class="detail"><td colSpan={7}><SharePanel f={f} peers={props.peers} names={props.names} onChanged={props.onChanged} /></td></tr> : null}
      {props.open === 'history' ? <tr class="detail"><td colSpan={7}><History f={f} /></td></tr> : null}
    </>
  );
}

function SharePanel(props: { f: FileRow; peers: PeerView[]; names: Map<string, string>; onChanged: () => void }) {
  const [error, setError] = useState<string>();
  const [result, setResult] = useState<string>();
  const [chosen, setChosen] = useState<string[]>([]);
  const candidates = props.peers.filter((p) => !props.f.shared_with.includes(p.id));
  const share = async () => {
    setError(undefined);
    const r = await post<{ grants: { recipient_name: string; delivered: boolean; error?: string }[] }>('/api/share', { file: props.f.path, peers: chosen });
    setResult(r.grants.map((g) => `${g.recipient_name}: ${g.delivered ? 'delivered' : g.error ?? 'queued, delivered at the next contact'}`).join(' · '));
    setChosen([]);
    props.onChanged();
  };
  if (!props.peers.length) return <p class="muted">Pair with a cell first (<a href="#/peers">Peers</a>) to share with it.</p>;
  return (
    <div class="panel">
      {props.f.shared_with.length ? (
        <div>
          <div class="label">Shared with</div>
          <ul class="chips">
            {props.f.shared_with.map((id) => (
              <li><span>{props.names.get(id) ?? shortId(id)}</span>
                <Action kind="quiet" label={`Stop sharing with ${props.names.get(id) ?? id}`} onError={setError} onRun={async () => {
                  await post('/api/unshare', { file: props.f.path, peer: id });
                  props.onChanged();
                }}>Unshare</Action></li>
            ))}
          </ul>
          <p class="muted small">Unsharing stops new versions; bytes already delivered cannot be recalled.</p>
        </div>
      ) : null}
      {candidates.length ? (
        <fieldset>
          <legend>Share with</legend>
          {candidates.map((p) => (
            <label class="check">
              <input type="checkbox" checked={chosen.includes(p.id)} onChange={(e) => setChosen((c) => ((e.target as HTMLInputElement).checked ? [...c, p.id] : c.filter((x) => x !== p.id)))} />
              {p.name}
            </label>
          ))}
          <Action kind="primary" onRun={share} onError={setError} disabled={!chosen.length} testid="share-submit">Share</Action>
        </fieldset>
      ) : null}
      {result ? <p class="note ok" role="status">{result}</p> : null}
      <ErrorNote error={error} />
    </div>
  );
}

function History(props: { f: FileRow }) {
  const v = useResource(() => get<{ versions: FileVersion[] }>(`/api/files/versions?path=${encodeURIComponent(props.f.path)}`), ['files'], [props.f.path]);
  return (
    <div class="panel">
      <div class="label">Versions of <code>{props.f.path}</code></div>
      <ErrorNote error={v.error} />
      <ol class="versions">
        {v.data?.versions.slice().reverse().map((x) => (
          <li><span>v{x.version}</span><span>{bytes(x.size)}</span><span>{when(x.added_at)}</span>
            <a class="btn small" href={`/api/files/download?manifest=${x.manifest_hash}`} download={props.f.name} aria-label={`Download version ${x.version}`}>Download</a></li>
        ))}
      </ol>
    </div>
  );
}
