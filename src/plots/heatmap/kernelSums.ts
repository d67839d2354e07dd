/**
 * The heatmap's kernel path (out-of-core or very large objects): the kernel sums every
 * gene per dataset × cluster group, and those sums stand in for cells, one pseudo-cell a
 * group, coded as the cells path codes its columns.
 */
import { tableFromIPC } from 'apache-arrow';

import { ExprscopeError } from '../../bridge/protocol';
import type { IPooledSums } from '../../compute/aggregate';
import {
  decodeGroupStats,
  IGroupStatsResult,
  IGroupSufficientStats
} from '../../data/groupStats';
import type { ExprscopeSession } from '../../session/session';
import type { ICodedColumn, IHeatmapInput } from './model';

/** The kernel path: sums per dataset × cluster of the genes, computed in the kernel. */
export async function kernelGroupSums(
  panel: ExprscopeSession,
  genes: string[],
  signal: AbortSignal,
  onLoading: (message: string) => void
): Promise<IGroupSufficientStats> {
  const { object, matrix, datasetColumn, clusterColumn } = panel.selection;
  const groupby = [
    ...new Set([datasetColumn, clusterColumn].filter((c): c is string => !!c))
  ];
  if (groupby.length === 0) {
    throw new ExprscopeError(
      'bad_request',
      'Choose a dataset or cluster column in the sidebar.'
    );
  }
  onLoading(
    `Summing ${genes.length} gene${genes.length === 1 ? '' : 's'} per group in the kernel…`
  );
  const { result, payload } = await panel.request<IGroupStatsResult>(
    'group_stats',
    { object, matrix, groupby, genes, expm1: true },
    { signal }
  );
  if (!payload) {
    throw new ExprscopeError('internal', 'The kernel sent no statistics.');
  }
  return decodeGroupStats(result, tableFromIPC(payload));
}

/** Fine groups of the kernel's sums as pseudo-cells, coded like the cells path. */
export function pooledGroups(
  panel: ExprscopeSession,
  sums: IGroupSufficientStats
): {
  dataset: ICodedColumn;
  cluster: ICodedColumn;
  groupSums: NonNullable<IHeatmapInput['groupSums']>;
} {
  const coded = (column: string | null): ICodedColumn => {
    const position = column ? sums.groupby.indexOf(column) : -1;
    if (position < 0) {
      return {
        codes: new Int32Array(sums.nGroups),
        categories: ['all cells']
      };
    }
    // The object's category order, as the cells path shows columns.
    const categories =
      panel.groupingColumns
        .find(c => c.name === column)
        ?.categories?.map(c => c.name) ?? [];
    const index = new Map(categories.map((name, k) => [name, k]));
    const codes = new Int32Array(sums.nGroups);
    sums.groupLabels.forEach((labels, g) => {
      const label = labels[position];
      if (!index.has(label)) {
        index.set(label, categories.length);
        categories.push(label);
      }
      codes[g] = index.get(label)!;
    });
    return { codes, categories };
  };
  const { datasetColumn, clusterColumn } = panel.selection;
  const nG = sums.nGroups;
  const perGene = (values: Float64Array, gene: number) => {
    const out = new Float64Array(nG);
    for (let g = 0; g < nG; g++) {
      out[g] = values[g * sums.nGenes + gene];
    }
    return out;
  };
  const genes = new Map<string, IPooledSums>();
  sums.genes.forEach((gene, j) =>
    genes.set(gene, {
      sum: perGene(sums.sum, j),
      sumSq: perGene(sums.sumSq, j),
      nnz: perGene(sums.nnz, j),
      sumExpm1: sums.sumExpm1 ? perGene(sums.sumExpm1, j) : null
    })
  );
  return {
    dataset: coded(datasetColumn),
    cluster: coded(clusterColumn),
    groupSums: {
      weights: Float64Array.from(sums.n),
      genes,
      hasNegative: sums.hasNegative
    }
  };
}
