import type { KeyObject } from 'node:crypto';
import { canonicalBytes } from './canonical.js';
import { signBytes, verifyBytes, publicFromCellId } from './keys.js';

// docs/design.md §2: signatures are Ed25519 over the RFC 8785 canonical JSON of the object without
// its `signature` field; the signature is carried as base64.

export type Signed<T> = T & { signature: string };

export function signObject<T extends object>(privateKey: KeyObject, obj: T): Signed<T> {
  const { signature: _drop, ...body } = obj as T & { signature?: string };
  const sig = signBytes(privateKey, canonicalBytes(body));
  return { ...(body as T), signature: sig.toString('base64') };
}

export function verifyObject(publicKey: KeyObject, obj: { signature?: unknown }): boolean {
  if (typeof obj.signature !== 'string') return false;
  const { signature, ...body } = obj;
  const sig = Buffer.from(signature as string, 'base64');
  return verifyBytes(publicKey, canonicalBytes(body), sig);
}

/** Verifies an object signed by the cell whose ID is given. */
export function verifyObjectByCell(cellId: string, obj: { signature?: unknown }): boolean {
  let pub: KeyObject;
  try {
    pub = publicFromCellId(cellId);
  } catch {
    return false;
  }
  return verifyObject(pub, obj);
}
