import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';
import { useLive, type Topic } from './live.js';

// Small shared pieces: data loading that follows live updates, buttons that show their
// work, copy buttons, empty states and error notes that say what to do.

export interface Resource<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

/** Loads `fetcher()` now, again when `deps` change, and whenever a `topics` event arrives. */
export function useResource<T>(fetcher: () => Promise<T>, topics: Topic[], deps: unknown[] = []): Resource<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(true);
  const gen = useRef(0);
  const load = useCallback(() => {
    const mine = ++gen.current;
    setLoading(true);
    fetcher().then(
      (d) => {
        if (mine !== gen.current) return;
        setData(d);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (mine !== gen.current) return;
        setError(message(e));
        setLoading(false);
      },
    );
  }, deps);
  useEffect(load, [load]);
  useLive(topics, load);
  return { data, error, loading, reload: load };
}

export function message(e: unknown): string {
  if (e instanceof ApiError || e instanceof Error) return e.message;
  return String(e);
}

/** A button that runs an async action, disables itself meanwhile and reports failure. */
export function Action(props: { onRun: () => Promise<unknown>; children: ComponentChildren; kind?: 'primary' | 'quiet' | 'danger'; label?: string; disabled?: boolean; small?: boolean; onError?: (m: string) => void; testid?: string }) {
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    try {
      await props.onRun();
    } catch (e) {
      props.onError?.(message(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <button type="button" class={`btn ${props.kind ?? ''}${props.small ? ' small' : ''}`} onClick={run} disabled={busy || props.disabled} aria-busy={busy} aria-label={props.label} data-testid={props.testid}>
      {props.children}
    </button>
  );
}

export function CopyButton(props: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.text);
    } catch {
      // No clipboard (plain http on another host): select the text for the user instead.
      const el = document.createElement('textarea');
      el.value = props.text;
      document.body.append(el);
      el.select();
      document.execCommand('copy');
      el.remove();
    }
    setDone(true);
    setTimeout(() => setDone(false), 1500);
  };
  return <button type="button" class="btn quiet small" onClick={copy} aria-label={props.label}>{done ? 'Copied' : 'Copy'}</button>;
}

export function Empty(props: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <p class="empty-title">{props.title}</p>
      {props.children ? <p class="muted">{props.children}</p> : null}
    </div>
  );
}

export function ErrorNote(props: { error: string | undefined; onRetry?: () => void }) {
  if (!props.error) return null;
  return (
    <div class="note error" role="alert">
      <span>{props.error}</span>
      {props.onRetry ? <button type="button" class="btn quiet small" onClick={props.onRetry}>Try again</button> : null}
    </div>
  );
}

export function Page(props: { title: string; actions?: ComponentChildren; children: ComponentChildren }) {
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-head">
        <h1 id="page-title">{props.title}</h1>
        {props.actions ? <div class="page-actions">{props.actions}</div> : null}
      </header>
      {props.children}
    </section>
  );
}
