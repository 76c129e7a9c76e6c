/**
 * Pure per-key merge of concurrent changes: start from the latest stored data and re-apply
 * only what this request changed since it loaded (per top-level key, compared by serialized
 * value so that in-place edits of nested objects count). Same key: this request wins, as the
 * last writer.
 */
export function mergeData(
  base: Record<string, unknown>,
  mine: Record<string, unknown>,
  theirs: Record<string, unknown>,
  same: (a: unknown, b: unknown) => boolean,
): Record<string, unknown> {
  const out = { ...theirs };
  for (const key of new Set([...Object.keys(base), ...Object.keys(mine)])) {
    const has = Object.hasOwn(mine, key);
    const had = Object.hasOwn(base, key);
    if (has === had && (!has || same(mine[key], base[key]))) continue;
    if (has) out[key] = mine[key];
    else delete out[key];
  }
  return out;
}

/** A field this request may have changed: its own value if it did, else the latest stored one. */
export function mergeField<T>(base: T, mine: T, theirs: T, same: (a: T, b: T) => boolean = Object.is): T {
  return same(mine, base) ? theirs : mine;
}
