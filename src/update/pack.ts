import { readFileSync } from 'node:fs';
import { readdir, stat, lstat, open, rename, unlink } from 'node:fs/promises';
import { createHash, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { badInput, GroveError } from '../errors.js';
import { tempPathFor, fsyncDir } from '../home/atomic.js';
import { cellIdFromPublic, rawPublic } from '../crypto/keys.js';
import { createPublicKey } from 'node:crypto';
import { comparePaths, encodeEntryHeader, checkEntryPath, MAX_ENTRIES } from './payload.js';
import { bundleHeader } from './bundle.js';
import { buildTimeFor, signManifest, MANIFEST_FORMAT, type ReleaseManifest } from './manifest.js';
import { parseVersion } from './version.js';

// `grove release build`: what goes into a bundle and how (docs/updates.md "What a bundle
// carries"). An installation is package.json, package-lock.json, bin/, dist/src/ and the
// production dependencies the lockfile names (entries without "dev": true), as built here —
// native bindings included, so a bundle runs only on its platform, arch and Node ABI.

export interface PackFile {
  /** Path inside the bundle ('/'-separated). */
  path: string;
  /** Where to read it. */
  source: string;
  executable: boolean;
  size: number;
}

/** A package with a binding.gyp keeps only its built binary from build/, and not deps/ or src/. */
function nativeSkip(rel: string, isDir: boolean, isNative: boolean): boolean {
  if (!isNative) return false;
  if (rel === 'deps' || rel.startsWith('deps/') || rel === 'src' || rel.startsWith('src/')) return true;
  if (isDir) return rel.startsWith('build/') && rel !== 'build/Release';
  if (rel.startsWith('build/')) return !/^build\/Release\/[^/]+\.node$/.test(rel) || rel.endsWith('/test_extension.node');
  return false;
}

async function walk(root: string, rel: string, out: PackFile[], skip: (rel: string, isDir: boolean) => boolean, prefix: string): Promise<void> {
  const dir = rel ? join(root, rel) : root;
  const names = (await readdir(dir)).sort();
  for (const name of names) {
    const r = rel ? `${rel}/${name}` : name;
    // Nested node_modules are separate lockfile entries; .bin holds only links.
    if (name === 'node_modules' || name === '.bin') continue;
    const st = await stat(join(root, r)); // follows links: a linked node_modules packs its files
    if (skip(r, st.isDirectory())) continue;
    if (st.isDirectory()) {
      await walk(root, r, out, skip, prefix);
    } else if (st.isFile()) {
      if (out.length >= MAX_ENTRIES) throw badInput('too many files for one bundle');
      const path = `${prefix}${r}`;
      checkEntryPath(path);
      out.push({ path, source: join(root, r), executable: (st.mode & 0o100) !== 0, size: st.size });
    }
  }
}

function readJson(path: string, what: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    throw badInput(`${what} is missing or not JSON: ${path}`);
  }
}

/** Production package directories (relative, e.g. node_modules/ajv/node_modules/fast-uri) from a v2/v3 lockfile. */
export function productionPackages(lock: Record<string, unknown>): string[] {
  const pkgs = lock.packages;
  if (!pkgs || typeof pkgs !== 'object') throw badInput('package-lock.json has no "packages" (lockfileVersion 2 or 3 needed)');
  return Object.entries(pkgs as Record<string, { dev?: boolean; link?: boolean }>)
    .filter(([k, v]) => k.startsWith('node_modules/') && !v.dev && !v.link)
    .map(([k]) => k)
    .sort();
}

/** Every file of the installation at `from`, in payload order. */
export async function collectInstallation(from: string): Promise<{ files: PackFile[]; version: string; nodeRange: string }> {
  const pkg = readJson(join(from, 'package.json'), 'package.json');
  const lock = readJson(join(from, 'package-lock.json'), 'package-lock.json');
  if (pkg.name !== 'grove') throw badInput(`${from} is not a grove installation`);
  if (!parseVersion(pkg.version)) throw badInput(`package.json version must be MAJOR.MINOR.PATCH, not ${String(pkg.version)}`);
  const engines = pkg.engines as { node?: unknown } | undefined;
  const nodeRange = typeof engines?.node === 'string' ? engines.node : '*';
  const files: PackFile[] = [];
  const none = () => false;
  for (const name of ['package.json', 'package-lock.json']) {
    const st = await stat(join(from, name));
    files.push({ path: name, source: join(from, name), executable: false, size: st.size });
  }
  try {
    await walk(join(from, 'bin'), '', files, none, 'bin/');
    await walk(join(from, 'dist', 'src'), '', files, none, 'dist/src/');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw badInput(`${from} has no bin/ or dist/src/ (build it first: npm run build)`);
    throw e;
  }
  for (const p of productionPackages(lock)) {
    const dir = join(from, p);
    let st;
    try {
      st = await stat(dir);
    } catch {
      // Optional dependencies for other platforms are in the lockfile but not installed.
      continue;
    }
    if (!st.isDirectory()) continue;
    let isNative = false;
    try {
      isNative = (await stat(join(dir, 'binding.gyp'))).isFile();
    } catch { /* pure JS */ }
    await walk(dir, '', files, (rel, isDir) => nativeSkip(rel, isDir, isNative), `${p}/`);
  }
  files.sort((a, b) => comparePaths(a.path, b.path));
  for (let i = 1; i < files.length; i++) if (files[i - 1]!.path === files[i]!.path) throw badInput(`two files at ${files[i]!.path}`);
  return { files, version: pkg.version as string, nodeRange };
}

export interface BuildOptions {
  from: string;
  key: KeyObject;
  out: string;
  now: number;
  /** ms from now until the manifest expires. */
  ttlMs: number;
  /** Absolute expiry (ms), overriding ttlMs. */
  expiresAt?: number;
}

/** Writes the bundle for `from` to `out` (atomically) and returns its signed manifest. */
export async function buildBundle(o: BuildOptions): Promise<ReleaseManifest> {
  // The bundle is renamed into place: never over a device, directory or link (e.g. /dev/null).
  const existing = await lstat(o.out).catch(() => undefined);
  if (existing && !existing.isFile()) throw badInput(`${o.out} exists and is not a regular file`);
  const { files, version, nodeRange } = await collectInstallation(o.from);
  const payloadTmp = tempPathFor(o.out);
  const hash = createHash('sha256');
  let size = 0;
  const fh = await open(payloadTmp, 'wx', 0o644);
  try {
    for (const f of files) {
      const head = encodeEntryHeader(f);
      const data = await readExact(f);
      hash.update(head).update(data);
      await fh.write(head);
      await fh.write(data);
      size += head.length + data.length;
    }
    await fh.close();
    const build_hash = hash.digest('hex');
    const manifest = signManifest(o.key, {
      format: MANIFEST_FORMAT,
      version,
      build_hash,
      build_time: buildTimeFor(build_hash),
      size,
      files: files.length,
      platform: process.platform,
      arch: process.arch,
      node_abi: process.versions.modules,
      node_range: nodeRange,
      built_with_node: process.versions.node,
      expires_at: o.expiresAt ?? o.now + o.ttlMs,
      signed_by: cellIdFromPublic(rawPublic(createPublicKey(o.key))),
    });
    await assemble(bundleHeader(manifest), payloadTmp, o.out);
    return manifest;
  } catch (e) {
    await fh.close().catch(() => {});
    throw e;
  } finally {
    await unlink(payloadTmp).catch(() => {});
  }
}

async function readExact(f: PackFile): Promise<Buffer> {
  const data = readFileSync(f.source);
  if (data.length !== f.size) throw new GroveError('CONFLICT', `${f.source} changed while building the bundle`);
  return data;
}

async function assemble(header: Buffer, payloadPath: string, out: string): Promise<void> {
  const tmp = tempPathFor(out);
  const dst = await open(tmp, 'wx', 0o644);
  const src = await open(payloadPath, 'r');
  try {
    await dst.write(header);
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
      const { bytesRead } = await src.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      await dst.write(buf.subarray(0, bytesRead));
    }
    await dst.sync();
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  } finally {
    await src.close();
    await dst.close();
  }
  await rename(tmp, out);
  await fsyncDir(join(out, '..'));
}
