import { badInput, GroveError } from '../errors.js';
import { checkPayload, readBundleManifest } from './bundle.js';
import { manifestSignatureValid, type ReleaseManifest } from './manifest.js';
import { judgeManifest, type UpdateFacts } from './policy.js';

// Full verification of a bundle file, cheapest checks first: the manifest's shape and
// signature, then policy (trusted signer, expiry, size, platform/ABI, never older), then
// the payload's length, hash and structure.

export interface VerifiedBundle {
  manifest: ReleaseManifest;
  payloadOffset: number;
  fileSha256: string;
}

export function refuse(message: string, reason: string): GroveError {
  return new GroveError('FORBIDDEN', message, { reason });
}

export function checkManifest(m: ReleaseManifest, facts: UpdateFacts): void {
  if (!manifestSignatureValid(m)) throw refuse(`build ${m.version}: the manifest signature does not verify`, 'signature');
  const v = judgeManifest(m, facts);
  if (!v.ok) throw refuse(v.message!, v.reason!);
}

export async function verifyBundle(path: string, facts: UpdateFacts, signal?: AbortSignal): Promise<VerifiedBundle> {
  const { manifest, payloadOffset, fileSize } = await readBundleManifest(path);
  checkManifest(manifest, facts);
  if (fileSize - payloadOffset > facts.maxBundleBytes) throw refuse(`bundle is larger than update.max_bundle_bytes (${facts.maxBundleBytes})`, 'oversized');
  const { fileSha256 } = await checkPayload(path, manifest, payloadOffset, fileSize, signal);
  return { manifest, payloadOffset, fileSha256 };
}

export function expectSameManifest(a: ReleaseManifest, b: ReleaseManifest): void {
  if (a.build_hash !== b.build_hash || a.signature !== b.signature) throw badInput('the bundle does not carry the manifest it was announced with');
}
