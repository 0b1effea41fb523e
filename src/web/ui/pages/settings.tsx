import { useState } from 'preact/hooks';
import { get, post } from '../api.js';
import { ErrorNote, Page, message, useResource } from '../components.js';
import type { Settings as SettingsData } from '../types.js';
import type { PageProps } from '../main.js';

// Settings saved to config.json (validated by the same parser as `grove config set`); the
// running cell picks them up at its next start. Later: relays, watched folders.

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
