import type { IndexSection } from '../recovery/sections.js';
import type { DB } from '../store/db.js';
import { isCellId } from '../crypto/encoding.js';
import { corrupt } from '../errors.js';
import { sentSeqs, raiseSentSeq } from './messages.js';

// Chat's section of the recovery index (docs/formats.md "Recovery index"): `chat_seq`, the
// last sequence number sent to each peer, so a rebuilt cell continues each conversation's
// numbering instead of reusing numbers the peer would refuse.

export function chatSeqSection(db: DB): IndexSection {
  return {
    name: 'chat_seq',
    collect: () => sentSeqs(db),
    restore: (value) => {
      if (value === undefined) return {};
      if (typeof value !== 'object' || value === null || Array.isArray(value)
        || !Object.entries(value).every(([k, v]) => isCellId(k) && Number.isSafeInteger(v) && (v as number) >= 0)) {
        throw corrupt('invalid index chat_seq');
      }
      for (const [peer, seq] of Object.entries(value as Record<string, number>)) raiseSentSeq(db, peer, seq);
      return {};
    },
  };
}
