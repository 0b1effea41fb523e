import canonicalizeImpl from 'canonicalize';

// RFC 8785 JSON Canonicalization Scheme (docs/design.md §2). Objects are canonicalized before
// sealing (manifests) and before signing (grants, chat, identity cards, requests).
const canonicalizeFn = canonicalizeImpl as unknown as (v: unknown) => string | undefined;

export function canonicalJson(value: unknown): string {
  const s = canonicalizeFn(value);
  if (s === undefined) throw new TypeError('value cannot be canonicalized');
  return s;
}

export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}
