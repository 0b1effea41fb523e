import { GroveError } from '../errors.js';
import { canonicalJson } from '../crypto/canonical.js';
import { sha256Hex } from '../crypto/hash.js';

// The recovery index (docs/formats.md "Recovery index") is assembled from sections that the
// features register: each owns the tables its section describes, writes the section from
// them, and reads it back on `grove restore`. The index module reads no feature's tables.

/** What a section's restore may use besides its own tables. */
export interface RestoreContext {
  now: number;
  signal?: AbortSignal | undefined;
  /** Makes sure an object of ours is here, fetching it from the peers that may hold it. */
  fetchObject(hash: string): Promise<boolean>;
}

/** Counts a section reports after restoring (merged into `grove restore`'s answer). */
export type RestoreCounts = Record<string, number | string[]>;

export interface IndexSection {
  /** Top-level key of the section in the sealed index (snake_case, stable: part of the format). */
  readonly name: string;
  /** The section's current content: plain JSON, deterministic for unchanged data. */
  collect(): unknown;
  /**
   * For a section that can be long: its items a page at a time (at most INDEX_PAGE_ITEMS each,
   * deterministic for unchanged data). The index then names page objects instead of holding
   * the items (docs/formats.md "Recovery index"); `restore` still gets the whole list.
   */
  pages?(): Iterable<unknown[]>;
  /** Cheap to read, and changes whenever the content does: an unchanged index is then not rebuilt. */
  revision?(): string;
  /** Brings the section back after a total loss. `value` is untrusted shape-wise: check it. */
  restore(value: unknown, ctx: RestoreContext): Promise<RestoreCounts> | RestoreCounts;
}

const NAME = /^[a-z][a-z0-9_]{0,31}$/;
const RESERVED = new Set(['owner', 'created_at']);

/** Sections in registration order: restore runs them in that order (peers before files before shares). */
export class IndexSections {
  private readonly sections: IndexSection[] = [];

  register(section: IndexSection): void {
    if (!NAME.test(section.name) || RESERVED.has(section.name)) throw new GroveError('INTERNAL', `bad index section name: ${section.name}`);
    if (this.sections.some((s) => s.name === section.name)) throw new GroveError('INTERNAL', `index section ${section.name} registered twice`);
    this.sections.push(section);
  }

  list(): readonly IndexSection[] {
    return this.sections;
  }

  /**
   * Changes whenever some section's content does: each section's revision, or for one without,
   * the hash of its content (such sections are small).
   */
  mark(): string {
    return sha256Hex(canonicalJson(this.sections.map((s) => [s.name, s.revision ? `r:${s.revision()}` : `c:${sha256Hex(canonicalJson(s.collect()))}`])));
  }

  /** Every section's content, keyed by name. */
  collect(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const s of this.sections) out[s.name] = s.collect();
    return out;
  }
}
