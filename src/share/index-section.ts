import type { IndexSection } from '../recovery/sections.js';
import type { Home } from '../home/home.js';
import type { PeerRegistry } from '../peers/registry.js';
import { isCellId } from '../crypto/encoding.js';
import { corrupt } from '../errors.js';
import { receiveGrant, heldGrantsJson } from './received.js';
import { activateShare, activeShares } from './sent.js';

// Sharing's sections of the recovery index (docs/formats.md "Recovery index"): `grants`, the
// grants other cells gave us as they signed them (re-verified on restore exactly as if their
// creator had just sent them, so the Feed comes back and nothing forged gets in), and
// `shares`, the paths we share and with whom (so newer versions keep following).

export function grantsSection(home: Home): IndexSection {
  return {
    name: 'grants',
    collect: () => heldGrantsJson(home.db),
    restore: (value, ctx) => {
      if (value === undefined) return { grants_restored: 0 };
      if (!Array.isArray(value)) throw corrupt('invalid index grants');
      let restored = 0;
      for (const g of value) {
        const creator = (g as { creator_pubkey?: unknown } | null)?.creator_pubkey;
        if (typeof creator !== 'string') continue;
        try {
          if (receiveGrant(home, creator, g, ctx.now).accepted) restored++;
        } catch {
          // Expired or no longer valid: the sharer can share again.
        }
      }
      return { grants_restored: restored };
    },
  };
}

export function sharesSection(home: Home, peers: PeerRegistry): IndexSection {
  return {
    name: 'shares',
    collect: () => activeShares(home.db),
    restore: (value, ctx) => {
      if (value === undefined) return { shares_restored: 0 };
      if (!Array.isArray(value) || !value.every((x: { path?: unknown; recipient?: unknown } | null) => x && typeof x.path === 'string' && isCellId(x.recipient))) {
        throw corrupt('invalid index shares');
      }
      let restored = 0;
      for (const sh of value as { path: string; recipient: string }[]) {
        if (!peers.get(sh.recipient)) continue;
        activateShare(home.db, sh.path, sh.recipient, ctx.now);
        restored++;
      }
      return { shares_restored: restored };
    },
  };
}
