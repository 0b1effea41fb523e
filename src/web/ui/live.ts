import { useEffect, useRef } from 'preact/hooks';

// Live updates: one EventSource on /api/events for the whole page. The browser resumes with
// Last-Event-ID by itself after a drop; a `reset` (missed too much) refreshes every view.

export type Topic = 'overview' | 'files' | 'feed' | 'chat' | 'peers' | 'sync' | 'settings';
type Listener = (topic: Topic, data: Record<string, unknown>) => void;

const listeners = new Set<Listener>();
let source: EventSource | undefined;
let connected = false;
const statusListeners = new Set<(up: boolean) => void>();
const TOPICS: Topic[] = ['overview', 'files', 'feed', 'chat', 'peers', 'sync', 'settings'];

export function connectLive(): void {
  if (source) return;
  source = new EventSource('/api/events');
  const emit = (topic: Topic, data: Record<string, unknown>) => {
    for (const l of listeners) l(topic, data);
  };
  for (const t of TOPICS) {
    source.addEventListener(t, (e) => emit(t, parse((e as MessageEvent<string>).data)));
  }
  source.addEventListener('reset', () => {
    for (const t of TOPICS) emit(t, {});
  });
  source.onopen = () => setConnected(true);
  source.onerror = () => setConnected(false);
}

export function disconnectLive(): void {
  source?.close();
  source = undefined;
  setConnected(false);
}

function setConnected(up: boolean): void {
  if (connected === up) return;
  connected = up;
  for (const l of statusListeners) l(up);
}

export function onLiveStatus(fn: (up: boolean) => void): () => void {
  statusListeners.add(fn);
  return () => statusListeners.delete(fn);
}

function parse(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' ? v : {};
  } catch {
    return {};
  }
}

/** Calls `fn` whenever one of `topics` changes. */
export function useLive(topics: Topic[], fn: (topic: Topic, data: Record<string, unknown>) => void): void {
  const ref = useRef(fn);
  ref.current = fn;
  const key = topics.join(',');
  useEffect(() => {
    const l: Listener = (t, d) => {
      if (topics.includes(t)) ref.current(t, d);
    };
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, [key]);
}
