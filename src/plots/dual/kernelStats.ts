/**
 * The dual-expression view's kernel path: correlations of two genes per dataset, per
 * cluster and per dataset × cluster, computed over all cells in the kernel (`pair_stats`,
 * docs/protocol.md) for out-of-core and very large objects.
 */
import { tableFromIPC } from 'apache-arrow';

import { ExprscopeError } from '../../bridge/protocol';
import type { ICorrelation } from '../../compute/correlation';
import type { ExprscopeSession } from '../../session/session';

/** The `pair_stats` result fields read here. */
interface IPairStatsResult {
  groupby: string[];
  groups: { labels: string[]; n: number }[];
  missing: string[];
  spearman_sampled?: boolean;
}

/**
 * Kernel correlations keyed like the model's statistics: "dataset|stim", "cluster|3",
 * "dataset_cluster|stim · 3". Genes the matrix lacks give an empty map (the view reports
 * them from the fetched cells).
 */
export async function kernelCorrelations(
  panel: Pick<ExprscopeSession, 'request' | 'selection'>,
  options: {
    geneX: string;
    geneY: string;
    detectedOnly: boolean;
    signal?: AbortSignal;
  }
): Promise<Map<string, ICorrelation>> {
  const { object, matrix, datasetColumn, clusterColumn } = panel.selection;
  const sections: [string, string[]][] = [];
  if (datasetColumn) {
    sections.push(['dataset', [datasetColumn]]);
  }
  if (clusterColumn) {
    sections.push(['cluster', [clusterColumn]]);
  }
  if (datasetColumn && clusterColumn && datasetColumn !== clusterColumn) {
    sections.push(['dataset_cluster', [datasetColumn, clusterColumn]]);
  }
  const stats = new Map<string, ICorrelation>();
  for (const [section, groupby] of sections) {
    const { result, payload } = await panel.request<IPairStatsResult>(
      'pair_stats',
      {
        object,
        matrix,
        gene_x: options.geneX,
        gene_y: options.geneY,
        groupby,
        detected_only: options.detectedOnly
      },
      { signal: options.signal }
    );
    if (result.missing.length > 0) {
      return new Map();
    }
    if (!payload) {
      throw new ExprscopeError('internal', 'The kernel sent no statistics.');
    }
    const table = tableFromIPC(payload);
    const column = (name: string) => {
      const vector = table.getChild(name);
      if (!vector) {
        throw new ExprscopeError(
          'internal',
          `The kernel's pair statistics lack '${name}': the exprscope package in the kernel may not match this extension.`
        );
      }
      return Array.from(vector, v => (v === null ? NaN : Number(v)));
    };
    const group = column('group');
    const nCells = column('n_cells');
    const n = column('n');
    const both = column('n_both_positive');
    const r = column('pearson_r');
    const rLow = column('pearson_ci_low');
    const rHigh = column('pearson_ci_high');
    const rP = column('pearson_p');
    const rho = column('spearman_rho');
    const rhoP = column('spearman_p');
    const reasons = table.getChild('reason');
    group.forEach((g, row) => {
      const label = result.groups[g].labels.join(' · ');
      const reason = reasons?.get(row);
      stats.set(`${section}|${label}`, {
        nCells: n[row],
        pearsonR: r[row],
        pearsonCiLow: rLow[row],
        pearsonCiHigh: rHigh[row],
        pearsonP: rP[row],
        spearmanRho: rho[row],
        // No bootstrap in the kernel: the interval is not shown rather than guessed.
        spearmanCiLow: NaN,
        spearmanCiHigh: NaN,
        spearmanP: rhoP[row],
        fracDoublePositive: nCells[row] > 0 ? both[row] / nCells[row] : NaN,
        reason: reason ? String(reason) : null
      });
    });
  }
  return stats;
}
