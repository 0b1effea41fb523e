// The page's only way to the cell: JSON over the dashboard API (docs/dashboard.md "API").
// Every state-changing call carries the session's CSRF token in X-Grove-CSRF.

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly detail?: Record<string, unknown>) {
    super(message);
  }
}

let csrf = '';
let onLoggedOut: () => void = () => {};

export function setCsrf(token: string): void {
  csrf = token;
}

export function whenLoggedOut(fn: () => void): void {
  onLoggedOut = fn;
}

async function failure(res: Response): Promise<ApiError> {
  let body: { error?: string; message?: string; detail?: Record<string, unknown> } = {};
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  return new ApiError(res.status, body.error ?? 'HTTP_' + res.status, body.message ?? `the cell answered ${res.status}`, body.detail);
}

export async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') {
    headers['x-grove-csrf'] = csrf;
    headers['content-type'] = 'application/json';
  }
  let res: Response;
  try {
    res = await fetch(path, { method, headers, credentials: 'same-origin', ...(method !== 'GET' ? { body: JSON.stringify(body ?? {}) } : {}) });
  } catch {
    throw new ApiError(0, 'OFFLINE', 'cannot reach the cell: is `grove start` still running?');
  }
  if (res.status === 401 && path !== '/api/login' && path !== '/api/session') onLoggedOut();
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

export const get = <T>(path: string) => api<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body);

/** Uploads one file as the request body (streamed by the browser), reporting progress. */
export function upload<T>(file: File, onProgress: (sent: number, total: number) => void, signal?: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', `/api/upload?name=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.setRequestHeader('x-grove-csrf', csrf);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      let body: { error?: string; message?: string } = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON */
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as T);
      else {
        if (xhr.status === 401) onLoggedOut();
        reject(new ApiError(xhr.status, body.error ?? 'HTTP_' + xhr.status, body.message ?? `upload failed (${xhr.status})`));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'OFFLINE', 'the upload was cut off: is the cell still running?'));
    xhr.onabort = () => reject(new ApiError(0, 'ABORTED', 'upload cancelled'));
    signal?.addEventListener('abort', () => xhr.abort());
    xhr.send(file);
  });
}
