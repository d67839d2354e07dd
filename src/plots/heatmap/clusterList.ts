/** Typed cluster lists ("0, 3 B cells") as cluster names. */

/**
 * Parse a typed cluster list ("0,3,7", "0, 3 7"): commas and whitespace separate
 * names; runs of words that form a known name ("B cells") are taken whole; names match
 * exactly, else case-insensitively. Blank text means all clusters (null).
 */
export function parseClusterList(
  text: string,
  knownClusters: readonly string[]
): { clusters: string[] | null; unknown: string[] } {
  if (text.trim() === '') {
    return { clusters: null, unknown: [] };
  }
  const exact = new Set(knownClusters);
  const folded = new Map<string, string | null>();
  for (const name of knownClusters) {
    const key = name.toLowerCase();
    // Two names differing only in case: a case-insensitive match would be a guess
    folded.set(key, folded.has(key) ? null : name);
  }
  const resolve = (name: string): string | null =>
    exact.has(name) ? name : (folded.get(name.toLowerCase()) ?? null);
  const clusters: string[] = [];
  const unknown: string[] = [];
  const add = (list: string[], name: string): void => {
    if (!list.includes(name)) {
      list.push(name);
    }
  };
  for (const part of text.split(',')) {
    const whole = resolve(part.trim());
    if (whole !== null) {
      add(clusters, whole);
      continue;
    }
    const words = part.split(/\s+/).filter(word => word !== '');
    for (let i = 0; i < words.length;) {
      // Longest run of words starting at i that names a cluster
      let end = words.length;
      let name: string | null = null;
      for (; end > i; end--) {
        name = resolve(words.slice(i, end).join(' '));
        if (name !== null) {
          break;
        }
      }
      if (name !== null) {
        add(clusters, name);
        i = end;
      } else {
        add(unknown, words[i]);
        i += 1;
      }
    }
  }
  return { clusters, unknown };
}
