/**
 * What every heatmap is drawn from (statistics first, issue 16): the kernel sums the genes
 * per dataset × cluster × sample group, and those sums stand in for cells, one pseudo-cell a
 * group, coded as cells are. Regrouping, rescaling and cluster subsets pool them here.
 */
import { ExprscopeError } from '../../bridge/protocol';
import type { IPooledSums } from '../../compute/aggregate';
import type { IGroupSufficientStats } from '../../data/groupStats';
import type { ExprscopeSession } from '../../session/session';
import type { ICodedColumn, IHeatmapInput } from './model';

/** Sums per dataset × cluster × sample of the genes, from the shared cache or the kernel. */
export async function kernelGroupSums(
  panel: ExprscopeSession,
  genes: string[],
  signal: AbortSignal,
  onLoading: (message: string) => void,
  options: { samples?: boolean } = {}
): Promise<IGroupSufficientStats> {
  const args = panel.selectionStatsArgs(genes, options);
  if (!args) {
    throw new ExprscopeError(
      'bad_request',
      'Choose a dataset or cluster column in the sidebar.'
    );
  }
  onLoading(
    `Summing ${genes.length} gene${genes.length === 1 ? '' : 's'} per group in the kernel…`
  );
  return panel.groupStats(args, { signal });
}

/** Cells the sums leave out: those without a label in one of the grouping columns. */
export function unlabelledCells(sums: IGroupSufficientStats): number {
  let grouped = 0;
  sums.n.forEach(n => (grouped += n));
  return sums.total.n - grouped;
}

/** Fine groups of the kernel's sums as pseudo-cells, coded like the cells path. */
export function pooledGroups(
  panel: ExprscopeSession,
  sums: IGroupSufficientStats
): {
  dataset: ICodedColumn;
  cluster: ICodedColumn;
  sample?: ICodedColumn;
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
  const { datasetColumn, clusterColumn, sampleColumn } = panel.selection;
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
    sample:
      sampleColumn && sums.groupby.includes(sampleColumn)
        ? coded(sampleColumn)
        : undefined,
    groupSums: {
      weights: Float64Array.from(sums.n),
      genes,
      hasNegative: sums.hasNegative
    }
  };
}
