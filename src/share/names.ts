import { extname } from 'node:path';
import { MAX_FILENAME_BYTES } from '../formats/grant.js';

// What a grant says about a file besides its key (docs/formats.md#share-grants): a filename
// the recipient can show and save, and a MIME type. Local names can hold anything a
// filesystem allows; the grant format is strict, so the sharer cleans the name up first.

// Path separators, C0/C1 controls, DEL, bidi embeddings/overrides/isolates (the format refuses them).
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069/\\]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** A name the grant format accepts: forbidden characters become `_`, cut to 255 UTF-8 bytes. */
export function grantFilename(name: string): string {
  let s = name.replace(LONE_SURROGATE, '\ufffd').replace(FORBIDDEN, '_');
  if (s === '' || s === '.' || s === '..') s = 'file';
  if (Buffer.byteLength(s, 'utf8') <= MAX_FILENAME_BYTES) return s;
  // Keep the extension when cutting, so the recipient's system still knows what it is.
  const ext = extname(s);
  const keepExt = ext.length > 1 && Buffer.byteLength(ext, 'utf8') <= 32 ? ext : '';
  const budget = MAX_FILENAME_BYTES - Buffer.byteLength(keepExt, 'utf8');
  let head = '';
  for (const ch of s.slice(0, s.length - keepExt.length)) {
    if (Buffer.byteLength(head + ch, 'utf8') > budget) break;
    head += ch;
  }
  return head + keepExt;
}

const TYPES: Record<string, string> = {
  '.txt': 'text/plain', '.md': 'text/markdown', '.csv': 'text/csv', '.html': 'text/html', '.htm': 'text/html',
  '.css': 'text/css', '.js': 'text/javascript', '.json': 'application/json', '.xml': 'application/xml',
  '.pdf': 'application/pdf', '.zip': 'application/zip', '.gz': 'application/gzip', '.tar': 'application/x-tar',
  '.7z': 'application/x-7z-compressed', '.doc': 'application/msword', '.odt': 'application/vnd.oasis.opendocument.text',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  '.pptx': 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp',
  '.svg': 'image/svg+xml', '.heic': 'image/heic', '.bmp': 'image/bmp', '.tif': 'image/tiff', '.tiff': 'image/tiff',
  '.mp3': 'audio/mpeg', '.ogg': 'audio/ogg', '.flac': 'audio/flac', '.wav': 'audio/wav', '.m4a': 'audio/mp4',
  '.mp4': 'video/mp4', '.mkv': 'video/x-matroska', '.webm': 'video/webm', '.mov': 'video/quicktime', '.avi': 'video/x-msvideo',
};

/** The MIME type for a file name, by extension; application/octet-stream when unknown. */
export function fileTypeOf(name: string): string {
  return TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
}
