/**
 * Gene-name lookup for the gene picker: search-as-you-type and pasted lists.
 *
 * Pure and synchronous; built once per (object, matrix) gene list. Matching is exact first and
 * case-insensitive second, because users paste symbols in any case (`isg15`) while objects keep
 * their own (`ISG15`, mouse `Isg15`).
 */

/** How a pasted list resolved against the object's genes. */
export interface IGeneResolution {
  /** Genes found, with the object's own spelling, in input order, without duplicates. */
  found: string[];
  /** Inputs that match no gene. */
  unknown: string[];
  /** Inputs that match several genes case-insensitively (e.g. `Foo` and `FOO` both exist). */
  ambiguous: { input: string; candidates: string[] }[];
}

/** Split pasted text into gene names: commas, semicolons, whitespace and newlines separate. */
export function splitGeneList(text: string): string[] {
  return text
    .split(/[\s,;]+/)
    .map(s => s.trim())
    .filter(s => s.length > 0);
}

export class GeneIndex {
  constructor(genes: readonly string[]) {
    this._genes = genes;
    this._exact = new Set(genes);
    this._upper = genes.map(g => g.toUpperCase());
    this._byUpper = new Map();
    genes.forEach((gene, i) => {
      const key = this._upper[i];
      const list = this._byUpper.get(key);
      if (list) {
        list.push(gene);
      } else {
        this._byUpper.set(key, [gene]);
      }
    });
  }

  get size(): number {
    return this._genes.length;
  }

  has(gene: string): boolean {
    return this._exact.has(gene);
  }

  /**
   * Genes matching a query, best first: exact, then prefix, then substring matches
   * (case-insensitive), each in the object's gene order. At most `limit` results.
   */
  search(query: string, limit = 30): string[] {
    const q = query.trim().toUpperCase();
    if (!q) {
      return [];
    }
    const exact = this._byUpper.get(q) ?? [];
    const prefix: string[] = [];
    const substring: string[] = [];
    for (let i = 0; i < this._upper.length; i++) {
      if (prefix.length >= limit) {
        break;
      }
      const upper = this._upper[i];
      if (upper === q) {
        continue;
      }
      const at = upper.indexOf(q);
      if (at === 0) {
        prefix.push(this._genes[i]);
      } else if (at > 0 && substring.length < limit) {
        substring.push(this._genes[i]);
      }
    }
    return [...exact, ...prefix, ...substring].slice(0, limit);
  }

  /** Resolve user-typed or pasted names to the object's genes. */
  resolve(inputs: readonly string[]): IGeneResolution {
    const found: string[] = [];
    const seen = new Set<string>();
    const unknown: string[] = [];
    const ambiguous: { input: string; candidates: string[] }[] = [];
    for (const input of inputs) {
      let gene: string | undefined;
      if (this._exact.has(input)) {
        gene = input;
      } else {
        const candidates = this._byUpper.get(input.toUpperCase());
        if (!candidates) {
          unknown.push(input);
          continue;
        }
        if (candidates.length > 1) {
          ambiguous.push({ input, candidates: [...candidates] });
          continue;
        }
        gene = candidates[0];
      }
      if (!seen.has(gene)) {
        seen.add(gene);
        found.push(gene);
      }
    }
    return { found, unknown, ambiguous };
  }

  private readonly _genes: readonly string[];
  private readonly _exact: Set<string>;
  private readonly _upper: string[];
  private readonly _byUpper: Map<string, string[]>;
}
