import { useState } from 'preact/hooks';
import { get, post } from '../api.js';
import { Action, Empty, ErrorNote, Page, message, useResource } from '../components.js';
import type { Settings as SettingsData, WatchedFolder } from '../types.js';
import type { PageProps } from '../main.js';

// Settings saved to config.json (validated by the same parser as `grove config set`); the
// running cell picks them up at its next start. Relays (relay.urls) and watched folders
// have their own cards.

const FIELDS: { key: string; label: string; help: string; type: 'text' | 'number' | 'list' }[] = [
  { key: 'name', label: 'Cell name', help: 'How peers see this cell.', type: 'text' },
  { key: 'replication.factor', label: 'Replication factor', help: 'Copies of each of your encrypted chunks kept on peer cells, besides your own.', type: 'number' },
  { key: 'sync.interval_s', label: 'Sync interval (seconds)', help: 'How often the sync round runs.', type: 'number' },
  { key: 'api.advertise', label: 'Advertised routes', help: 'Comma-separated URLs peers use to reach this cell (put in invite codes). Empty: derived from this machine’s addresses.', type: 'list' },
];

export function Settings(_props: PageProps) {
  const s = useResource(() => get<SettingsData>('/api/settings'), ['settings']);
  return (
    <Page title="Settings">
      <ErrorNote error={s.error} onRetry={s.reload} />
      {s.data ? (
        <div class="card">
          <h2>This cell</h2>
          {FIELDS.map((f) => <Field f={f} saved={s.data!.saved[f.key]} running={s.data!.running[f.key]} onSaved={s.reload} />)}
          <p class="muted small">This dashboard is at {s.data.dashboard.url ?? 'an unknown address'} (configured: {s.data.dashboard.host}:{s.data.dashboard.port}; change <code>dashboard.host</code> and <code>dashboard.port</code> with <code>grove config set</code>).</p>
        </div>
      ) : null}
      {s.data ? <Relays data={s.data} onSaved={s.reload} /> : null}
      <Watched />
      <Password />
    </Page>
  );
}

function show(v: unknown): string {
  return Array.isArray(v) ? v.join(', ') : v === undefined || v === null ? '' : String(v);
}

function Field(props: { f: (typeof FIELDS)[number]; saved: unknown; running: unknown; onSaved: () => void }) {
  const { f } = props;
  const [value, setValue] = useState(show(props.saved));
  const [error, setError] = useState<string>();
  const [note, setNote] = useState<string>();
  const id = `setting-${f.key.replace(/\W/g, '-')}`;
  const save = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const v = f.type === 'list' ? value.split(',').map((x) => x.trim()).filter(Boolean) : value.trim();
      await post('/api/settings', { key: f.key, value: v });
      setNote('Saved. Restart the cell (grove start) to apply it.');
      props.onSaved();
    } catch (err) {
      setError(message(err));
    }
  };
  const pending = show(props.saved) !== show(props.running);
  return (
    <form class="field" onSubmit={save}>
      <label for={id}>{f.label}</label>
      <div class="row">
        {f.type === 'number'
          ? <input id={id} type="number" min={1} value={value} aria-describedby={`${id}-help`} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
          : <input id={id} type="text" value={value} aria-describedby={`${id}-help`} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />}
        <button class="btn" type="submit" disabled={value === show(props.saved)}>Save</button>
      </div>
      <p id={`${id}-help`} class="muted small">{f.help}{pending ? ` Running with ${show(props.running) || 'the default'} until restarted.` : ''}</p>
      {note ? <p class="note ok" role="status">{note}</p> : null}
      <ErrorNote error={error} />
    </form>
  );
}

// Relays (relay.urls): a cell behind NAT listens on them so peers can reach it. The list
// is saved to config.json like `grove config set relay.urls` (same validation); the cell
// connects to the relays it was started with, so a change applies at its next start.
function Relays(props: { data: SettingsData; onSaved: () => void }) {
  const saved = (props.data.saved['relay.urls'] as string[] | undefined) ?? [];
  const running = props.data.relays;
  const [url, setUrl] = useState('');
  const [error, setError] = useState<string>();
  const [note, setNote] = useState<string>();
  const save = async (urls: string[]) => {
    setError(undefined);
    await post('/api/settings', { key: 'relay.urls', value: urls });
    setNote('Saved. Restart the cell (grove start) to connect to the relays as listed.');
    props.onSaved();
  };
  const add = async (e: Event) => {
    e.preventDefault();
    const u = url.trim();
    if (saved.includes(u)) return setError(`${u} is already listed.`);
    try {
      await save([...saved, u]);
      setUrl('');
    } catch (err) {
      setError(message(err));
    }
  };
  const state = (u: string) => {
    const link = running.find((r) => r.url === u);
    if (!link) return <span class="pill warn" data-testid="relay-state">at the next start</span>;
    return link.connected ? <span class="pill ok" data-testid="relay-state">connected</span> : <span class="pill" data-testid="relay-state">not connected</span>;
  };
  const leaving = running.filter((r) => !saved.includes(r.url));
  return (
    <div class="card" data-testid="relays">
      <h2>Relays</h2>
      <p class="muted small">A cell that peers cannot reach directly (behind NAT) listens on relays: <code>ws://HOST:PORT</code> or <code>wss://HOST:PORT</code>, at most 8. A relay forwards encrypted streams and learns nothing but cell IDs. A private relay’s token is set with <code>grove config set relay.token</code>.</p>
      {saved.length ? (
        <ul class="plain">
          {saved.map((u) => (
            <li data-testid="relay"><code>{u}</code> {state(u)}{' '}
              <Action kind="quiet" small label={`Remove relay ${u}`} onError={setError} onRun={() => save(saved.filter((x) => x !== u))}>Remove</Action>
            </li>
          ))}
        </ul>
      ) : <p class="muted">No relay: peers reach this cell only by its direct routes.</p>}
      {leaving.length ? <p class="muted small" data-testid="relays-leaving">Still connected until the next start: {leaving.map((r) => r.url).join(', ')}.</p> : null}
      <form class="field" onSubmit={add}>
        <label for="relay-url">Add a relay</label>
        <div class="row">
          <input id="relay-url" type="text" placeholder="wss://relay.example.org:443" value={url} onInput={(e) => setUrl((e.target as HTMLInputElement).value)} />
          <button class="btn" type="submit" disabled={!url.trim()}>Add relay</button>
        </div>
        <p class="muted small">The cell connects to its relays when it starts: changes here apply at the next start.</p>
      </form>
      {note ? <p class="note ok" role="status">{note}</p> : null}
      <ErrorNote error={error} />
    </div>
  );
}

function Password() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<string>();
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    if (next !== again) return setError('The new passwords do not match.');
    if (next.length < 8) return setError('Use at least 8 characters.');
    try {
      await post('/api/password', { current, next });
      location.reload(); // every session ended, this one too: sign in with the new password
    } catch (err) {
      setError(message(err));
    }
  };
  return (
    <form class="card" onSubmit={submit}>
      <h2>Dashboard password</h2>
      <p class="muted small">Changing it signs out every open dashboard, this one too (as <code>grove passwd</code> does).</p>
      <label for="pw-current">Current password</label>
      <input id="pw-current" type="password" autoComplete="current-password" value={current} onInput={(e) => setCurrent((e.target as HTMLInputElement).value)} />
      <label for="pw-new">New password</label>
      <input id="pw-new" type="password" autoComplete="new-password" minLength={8} value={next} onInput={(e) => setNext((e.target as HTMLInputElement).value)} />
      <label for="pw-again">Repeat the new password</label>
      <input id="pw-again" type="password" autoComplete="new-password" value={again} onInput={(e) => setAgain((e.target as HTMLInputElement).value)} />
      <button class="btn primary" type="submit" disabled={!current || !next}>Change password</button>
      <ErrorNote error={error} />
    </form>
  );
}

// Watched folders (`grove watch DIR`, `grove unwatch DIR`): new and changed files in them are
// added as they appear. The folder is a path on the cell's machine, not this browser's.
function Watched() {
  const w = useResource(() => get<{ folders: WatchedFolder[] }>('/api/watch'), ['settings']);
  const [dir, setDir] = useState('');
  const [error, setError] = useState<string>();
  const add = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      await post('/api/watch', { dir: dir.trim() });
      setDir('');
      w.reload();
    } catch (err) {
      setError(message(err));
    }
  };
  return (
    <div class="card" data-testid="watched">
      <h2>Watched folders</h2>
      <ErrorNote error={w.error} onRetry={w.reload} />
      {w.data && !w.data.folders.length ? <Empty title="No watched folder">Files put in a watched folder are added to Grove as they appear.</Empty> : null}
      {w.data?.folders.length ? (
        <ul class="plain">
          {w.data.folders.map((f) => (
            <li data-testid="watched-folder">
              <code>{f.root}</code> <span class={`pill small ${f.state === 'watching' ? 'ok' : f.state === 'paused' ? 'warn' : ''}`}>{f.state}</span>
              <span class="muted small"> {f.files} files{f.gone ? `, ${f.gone} gone at source` : ''}{f.note ? ` · ${f.note}` : ''}</span>{' '}
              <Action kind="quiet" small label={`Stop watching ${f.root}`} onError={setError} onRun={async () => {
                await post('/api/watch/remove', { dir: f.root });
                w.reload();
              }}>Stop watching</Action>
            </li>
          ))}
        </ul>
      ) : null}
      <form class="field" onSubmit={add}>
        <label for="watch-dir">Folder on the cell’s machine (absolute path)</label>
        <div class="row">
          <input id="watch-dir" type="text" placeholder="/home/me/Photos" value={dir} onInput={(e) => setDir((e.target as HTMLInputElement).value)} data-testid="watch-dir" />
          <button class="btn" type="submit" disabled={!dir.trim()}>Watch</button>
        </div>
      </form>
      <ErrorNote error={error} />
    </div>
  );
}
