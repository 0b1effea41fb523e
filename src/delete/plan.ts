// Mark-and-sweep for deletes (docs/delete.md), pure over plain data: what a delete may move
// to the trash is every object of the deleted versions (manifest and chunks) that no live
// version still references. Chunks are shared by identical content across paths and
// versions (convergent keys, docs/design.md §2), so a chunk of a deleted file often stays.

export interface VersionObjects {
  manifest: string;
  chunks: string[];
}

/** The objects to trash: the marked set is everything live versions reference. */
export function planDelete(deleted: VersionObjects[], live: Iterable<VersionObjects>): string[] {
  const marked = new Set<string>();
  for (const v of live) {
    marked.add(v.manifest);
    for (const c of v.chunks) marked.add(c);
  }
  const out = new Set<string>();
  for (const v of deleted) {
    for (const h of [v.manifest, ...v.chunks]) if (!marked.has(h)) out.add(h);
  }
  return [...out].sort();
}
