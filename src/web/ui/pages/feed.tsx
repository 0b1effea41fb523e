import { get } from '../api.js';
import { Empty, ErrorNote, Page, useResource } from '../components.js';
import { bytes, shortId, when } from '../format.js';
import type { FeedItem } from '../types.js';
import type { PageProps } from '../main.js';

export function Feed(_props: PageProps) {
  const feed = useResource(() => get<{ items: FeedItem[] }>('/api/feed'), ['feed', 'sync']);
  const items = feed.data?.items;
  return (
    <Page title="Feed">
      <p class="muted intro">Files your peers shared with this cell. Downloads are decrypted with the key from the grant and checked chunk by chunk.</p>
      <ErrorNote error={feed.error} onRetry={feed.reload} />
      {items && !items.length ? <Empty title="Nothing shared with this cell yet">When a peer runs <code>grove share FILE {'<this cell>'}</code> or shares from its dashboard, the file appears here at once.</Empty> : null}
      {items?.length ? (
        <div class="table-wrap">
          <table class="table" data-testid="feed-table">
            <thead><tr><th scope="col">Name</th><th scope="col">From</th><th scope="col">Shared</th><th scope="col" class="num">Size</th><th scope="col">Here</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
            <tbody>
              {items.map((i) => (
                <tr key={`${i.from}/${i.manifest_hash}`} data-testid="feed-row">
                  <td class="name" title={i.filename}>{i.filename}</td>
                  <td title={i.from}>{i.from_name ?? shortId(i.from)}</td>
                  <td>{when(i.granted_at)}</td>
                  <td class="num">{bytes(i.total_size)}</td>
                  <td>{i.available ? <span class="pill ok">every byte here</span> : <span class="pill">fetched on download</span>}</td>
                  <td class="actions"><a class="btn small" href={`/api/feed/download?manifest=${i.manifest_hash}`} download={i.filename}>Download</a></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </Page>
  );
}
