import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, post, setCsrf, whenLoggedOut } from './api.js';
import { connectLive, disconnectLive, onLiveStatus } from './live.js';
import { message, useResource } from './components.js';
import type { Conversation, PeerView, Session } from './types.js';
import { Overview } from './pages/overview.js';
import { Files } from './pages/files.js';
import { Feed } from './pages/feed.js';
import { Chat } from './pages/chat.js';
import { Peers } from './pages/peers.js';
import { Settings } from './pages/settings.js';
import { Updates } from './pages/updates.js';

// The dashboard page: a login form until there is a session, then one page per concept,
// chosen by the URL fragment (#/files). Later features add their page to PAGES (updates,
// watched folders) and nothing else changes.

export interface PageProps {
  session: Session;
  peers: PeerView[];
  route: string[];
}

interface PageDef {
  path: string;
  title: string;
  view: (p: PageProps) => preact.JSX.Element;
}

const PAGES: PageDef[] = [
  { path: 'overview', title: 'Overview', view: (p) => <Overview {...p} /> },
  { path: 'files', title: 'Files', view: (p) => <Files {...p} /> },
  { path: 'feed', title: 'Feed', view: (p) => <Feed {...p} /> },
  { path: 'chat', title: 'Chat', view: (p) => <Chat {...p} /> },
  { path: 'peers', title: 'Peers', view: (p) => <Peers {...p} /> },
  { path: 'updates', title: 'Updates', view: (p) => <Updates {...p} /> },
  { path: 'settings', title: 'Settings', view: (p) => <Settings {...p} /> },
];

function currentRoute(): string[] {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return parts.length ? parts : ['overview'];
}

/**
 * The session the server put in the page (what GET /api/session answers; empty: none), so
 * the first render is already the login form or the cell. undefined: the page carries no
 * such tag, ask the API.
 */
function sessionInPage(): Session | null | undefined {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="grove-session"]');
  if (!meta) return undefined;
  if (!meta.content) return null;
  try {
    const s = JSON.parse(meta.content) as Session;
    setCsrf(s.csrf);
    return s;
  } catch {
    return undefined;
  }
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(sessionInPage);
  useEffect(() => {
    whenLoggedOut(() => setSession(null));
    if (session !== undefined) return;
    get<Session>('/api/session').then((s) => {
      setCsrf(s.csrf);
      setSession(s);
    }, () => setSession(null));
  }, []);
  useEffect(() => {
    // The first usable screen (login form or a page) is on: `npm run bench:dashboard` reads this mark.
    if (session !== undefined && !performance.getEntriesByName('grove:interactive').length) performance.mark('grove:interactive');
  }, [session]);
  if (session === undefined) return <p class="boot">Loading Grove…</p>;
  if (session === null) {
    return <Login onIn={(s) => {
      setCsrf(s.csrf);
      setSession(s);
    }} />;
  }
  return <Shell session={session} onOut={() => setSession(null)} />;
}

function Login(props: { onIn: (s: Session) => void }) {
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      props.onIn(await post<Session>('/api/login', { password }));
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'Wrong password. The password was printed by `grove init`; set a new one with `grove passwd`.' : message(err));
      setPassword('');
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form class="card login-card" onSubmit={submit} aria-labelledby="login-title">
        <div class="brand big"><img src="/assets/icon.svg" alt="" width="36" height="36" /><span>Grove</span></div>
        <h1 id="login-title">Sign in to this cell</h1>
        <label for="password">Dashboard password</label>
        <input id="password" name="password" type="password" autoComplete="current-password" autoFocus required
          value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        {error ? <p class="note error" role="alert" data-testid="login-error">{error}</p> : null}
        <button class="btn primary wide" type="submit" disabled={busy || !password}>{busy ? 'Checking…' : 'Sign in'}</button>
      </form>
    </main>
  );
}

function Shell(props: { session: Session; onOut: () => void }) {
  const [route, setRoute] = useState(currentRoute());
  const [live, setLive] = useState(false);
  const [navOpen, setNavOpen] = useState(false);
  useEffect(() => {
    const onHash = () => {
      setRoute(currentRoute());
      setNavOpen(false);
    };
    addEventListener('hashchange', onHash);
    connectLive();
    const off = onLiveStatus(setLive);
    return () => {
      removeEventListener('hashchange', onHash);
      off();
      disconnectLive();
    };
  }, []);
  // The page preloads these two and /api/overview when signed in (FIRST_ANSWERS, src/web/assets.ts).
  const peers = useResource(() => get<{ peers: PeerView[] }>('/api/peers'), ['peers']);
  const chats = useResource(() => get<{ conversations: Conversation[] }>('/api/chat'), ['chat', 'peers']);
  const unread = chats.data?.conversations.reduce((n, c) => n + c.unread, 0) ?? 0;
  const page = PAGES.find((p) => p.path === route[0]) ?? PAGES[0]!;
  useEffect(() => {
    document.title = `${page.title} · ${props.session.name} · Grove`;
  }, [page, props.session.name]);
  const logout = async () => {
    await post('/api/logout').catch(() => {});
    disconnectLive();
    props.onOut();
  };
  return (
    <div class="shell">
      <a class="skip" href="#main">Skip to content</a>
      <header class="topbar">
        <button type="button" class="btn quiet menu" aria-label="Menu" aria-expanded={navOpen} onClick={() => setNavOpen(!navOpen)}>☰</button>
        <a class="brand" href="#/overview"><img src="/assets/icon.svg" alt="" width="24" height="24" /><span>Grove</span></a>
        <span class="cell-name" title={props.session.id}>{props.session.name}</span>
        <span class={`live ${live ? 'up' : 'down'}`} role="status" title={live ? 'Live updates connected' : 'Reconnecting to the cell…'}>
          {live ? 'Live' : 'Offline'}
        </span>
        <button type="button" class="btn quiet" onClick={logout}>Sign out</button>
      </header>
      <nav class={`sidenav ${navOpen ? 'open' : ''}`} aria-label="Pages">
        {PAGES.map((p) => (
          <a href={`#/${p.path}`} class={p === page ? 'active' : ''} aria-current={p === page ? 'page' : undefined}>
            {p.title}
            {p.path === 'chat' && unread > 0 ? <span class="badge" aria-label={`${unread} unread`} data-testid="unread-total">{unread}</span> : null}
          </a>
        ))}
      </nav>
      <main id="main" tabIndex={-1}>
        {page.view({ session: props.session, peers: peers.data?.peers ?? [], route })}
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
