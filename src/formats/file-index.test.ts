import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, hkdfSync } from 'node:crypto';
import canonicalizeImpl from 'canonicalize';
import { sealIndexPage, openIndexPage, isPagedSection } from './file-index.js';
import { GroveError } from '../errors.js';

const canonicalize = canonicalizeImpl as unknown as (v: unknown) => string | undefined;
const MASTER = Buffer.alloc(32, 7);
const OWNER = 'a'.repeat(52);
const isCorrupt = (e: unknown) => e instanceof GroveError && e.code === 'CORRUPT';

test('an index page is nonce ‖ ChaCha20-Poly1305 of its canonical JSON under the index key (docs/formats.md)', () => {
  const nonce = Buffer.alloc(12, 3);
  const page = { owner: OWNER, section: 'files', items: [{ path: '/x', version: 1 }, { b: 2, a: 1 }] };
  // Re-derived from the format's words, not from the code under test.
  const key = Buffer.from(hkdfSync('sha256', MASTER, 'grove-file-key-v1', 'grove-index-key-v1', 32));
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  const body = Buffer.from(canonicalize(page)!);
  c.setAAD(Buffer.from(`grove-index-page-v1\n${OWNER}`), { plaintextLength: body.length });
  const want = Buffer.concat([nonce, c.update(body), c.final(), c.getAuthTag()]);
  assert.deepEqual(sealIndexPage(MASTER, page, nonce), want);
  assert.deepEqual(openIndexPage(MASTER, OWNER, 'files', want), page.items);
});

test('a page opens only for its owner and section, and not at all when damaged', () => {
  const bytes = sealIndexPage(MASTER, { owner: OWNER, section: 'files', items: [1, 2, 3] });
  assert.throws(() => openIndexPage(MASTER, 'b'.repeat(52), 'files', bytes), isCorrupt);
  assert.throws(() => openIndexPage(MASTER, OWNER, 'grants', bytes), isCorrupt);
  assert.throws(() => openIndexPage(Buffer.alloc(32, 8), OWNER, 'files', bytes), isCorrupt);
  const flipped = Buffer.from(bytes);
  flipped[20]! ^= 1;
  assert.throws(() => openIndexPage(MASTER, OWNER, 'files', flipped), isCorrupt);
  assert.throws(() => openIndexPage(MASTER, OWNER, 'files', bytes.subarray(0, 20)), isCorrupt);
});

test('a paged section value is {pages, count}; an older index\'s plain list is not', () => {
  assert.equal(isPagedSection({ pages: [], count: 0 }), true);
  assert.equal(isPagedSection([{ pages: [] }]), false);
  assert.equal(isPagedSection({ pages: 'x', count: 1 }), false);
  assert.equal(isPagedSection(null), false);
});
