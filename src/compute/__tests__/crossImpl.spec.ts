/**
 * Browser vs kernel: the TypeScript core run on the inputs stored in
 * `conformance/compute_fixture.json` (and `conformance/conserved_fixture.json`, the conserved
 * markers) must give the numbers the Python implementation (`exprscope/compute/`) stored
 * there. The fixtures are written by `scripts/make_compute_fixtures.py`; null stands for
 * NaN.
 */
import { readFileSync } from 'fs';
import { join } from 'path';

import { aggregate, combineCodes, groupStats, IMatrix } from '../aggregate';
import {
  CombineMethod,
  conservedMarkers,
  conservedStatistics
} from '../conserved';
import {
  correlateByGroup,
  correlationDifference,
  ICorrelation,
  ICorrelationDifference,
  pearsonByGroup
} from '../correlation';
import {
  betaIncReg,
  normalCdf,
  normalQuantile,
  studentTTwoSidedP
} from '../distributions';
import { DistanceMetric, hclust } from '../hclust';
import { IGroupMoments, IMarker, rankMarkers } from '../markers';
import { RowScaling, scaleRows } from '../scale';

type Num = number | null;

interface IStoredMarker {
  group: number;
  rank: number;
  gene: number;
  score: number;
  logfoldchange: number;
  pval: number;
  pval_adj: number;
}

interface IStoredAggregate {
  n_cells: number[];
  mean: Num[][];
  var: Num[][];
  frac_expressing: Num[][];
  sum: number[][];
  sum_sq: number[][];
}

interface IStoredCorrelation {
  group: number;
  n_cells: number;
  pearson_r: Num;
  pearson_ci_low: Num;
  pearson_ci_high: Num;
  pearson_p: Num;
  spearman_rho: Num;
  spearman_ci_low: Num;
  spearman_ci_high: Num;
  spearman_p: Num;
  frac_double_positive: Num;
  reason: string | null;
}

interface IGrouping {
  categories: string[];
  codes: number[];
}

interface IFixture {
  inputs: {
    cells: {
      genes: string[];
      values: number[][];
      groupings: { louvain: IGrouping; phase: IGrouping };
    };
    heatmap: { genes: string[]; matrix: number[][] };
    marker_moments: {
      genes: string[];
      n: number[];
      sum: number[][];
      sum_sq: number[][];
      total_n: number;
      total_sum: number[];
      total_sum_sq: number[];
    };
    min_cells: number;
    distributions: Record<
      't_two_sided' | 'beta_inc' | 'normal_quantile' | 'normal_cdf',
      number[][]
    >;
    correlation_differences: [number, number, number, number][];
  };
  outputs: {
    aggregates: Record<
      'louvain' | 'louvain_linear_mean' | 'phase_x_louvain',
      IStoredAggregate
    >;
    scaled: Record<
      'zscore' | 'zscore_unclipped' | 'minmax',
      { matrix: Num[][]; constant_rows: boolean[] }
    >;
    hclust: Record<
      string,
      {
        linkage: number[][];
        leaves: number[];
        icoord: number[][];
        dcoord: number[][];
      }
    >;
    markers: { from_cells: IStoredMarker[]; from_moments: IStoredMarker[] };
    correlations: {
      gene_x: string;
      gene_y: string;
      grouping: 'louvain' | 'phase';
      detected_only: boolean;
      n_boot: number;
      seed: number;
      groups: IStoredCorrelation[];
    }[];
    distributions: Record<
      't_two_sided' | 'beta_inc' | 'normal_quantile' | 'normal_cdf',
      number[]
    >;
    correlation_differences: Record<
      'delta_r' | 'delta_r_ci_low' | 'delta_r_ci_high' | 'z' | 'p',
      Num[]
    >;
  };
}

// Read rather than imported: the composite tsconfig does not list JSON files
const fixture = JSON.parse(
  readFileSync(
    join(__dirname, '..', '..', '..', 'conformance', 'compute_fixture.json'),
    'utf8'
  )
) as IFixture;
const { inputs, outputs } = fixture;

/**
 * |actual − expected| ≤ tol · max(1, |expected|), or relative to |expected| only with
 * `relative` (p-values near 1e-50 must agree in their digits, not just be tiny; below
 * 1e-300 scipy may return 0 where we return a subnormal); null (NaN in the fixture)
 * must be NaN.
 */
function expectAgree(
  actual: number,
  expected: Num,
  tol: number,
  where: string,
  relative = false
): void {
  if (expected === null) {
    if (!Number.isNaN(actual)) {
      throw new Error(`${where}: expected NaN, got ${actual}`);
    }
    return;
  }
  const scale = relative ? Math.abs(expected) : Math.max(1, Math.abs(expected));
  const ok =
    actual === expected ||
    (Number.isFinite(actual) &&
      Math.abs(actual - expected) <= Math.max(tol * scale, 1e-300));
  if (!ok) {
    throw new Error(`${where}: expected ${expected}, got ${actual}`);
  }
}

function expectAgreeAll(
  actual: ArrayLike<number>,
  expected: readonly Num[],
  tol: number,
  where: string,
  relative = false
): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((value, i) =>
    expectAgree(actual[i], value, tol, `${where}[${i}]`, relative)
  );
}

function rows(matrix: IMatrix): number[][] {
  return Array.from({ length: matrix.nRows }, (_, r) =>
    Array.from(matrix.data.subarray(r * matrix.nCols, (r + 1) * matrix.nCols))
  );
}

function fromRows(values: readonly Num[][]): IMatrix {
  return {
    nRows: values.length,
    nCols: values[0].length,
    data: Float64Array.from(values.flat(), v => (v === null ? NaN : v))
  };
}

// The slice as the browser receives it: one float32 column per gene
const geneColumns = new Map(
  inputs.cells.genes.map((gene, j) => [
    gene,
    Float32Array.from(inputs.cells.values[j])
  ])
);
const louvain = Int32Array.from(inputs.cells.groupings.louvain.codes);
const nLouvain = inputs.cells.groupings.louvain.categories.length;
const phase = Int32Array.from(inputs.cells.groupings.phase.codes);
const nPhase = inputs.cells.groupings.phase.categories.length;
const crossed = combineCodes(phase, nPhase, louvain, nLouvain);

const groupings: Record<
  keyof IFixture['outputs']['aggregates'],
  { codes: Int32Array; nGroups: number; linearMean: boolean }
> = {
  louvain: { codes: louvain, nGroups: nLouvain, linearMean: false },
  louvain_linear_mean: { codes: louvain, nGroups: nLouvain, linearMean: true },
  phase_x_louvain: {
    codes: crossed,
    nGroups: nPhase * nLouvain,
    linearMean: false
  }
};

const AGGREGATE_TOL = 1e-5;
const MARKER_TOL = 1e-5;
const CORRELATION_TOL = 1e-6;

describe('cross-implementation fixture (TypeScript vs exprscope.compute)', () => {
  it('holds real data: 8 genes × 300 cells, cells without a group', () => {
    expect(inputs.cells.values).toHaveLength(inputs.cells.genes.length);
    inputs.cells.values.forEach(column => expect(column).toHaveLength(300));
    expect(louvain.some(code => code < 0)).toBe(true);
  });

  describe.each(Object.keys(groupings) as (keyof typeof groupings)[])(
    'aggregates by %s',
    name => {
      const { codes, nGroups, linearMean } = groupings[name];
      const stored = outputs.aggregates[name];
      const result = aggregate(geneColumns, codes, nGroups, {
        linearMean,
        minCells: inputs.min_cells
      });

      it('counts the same cells per group', () => {
        expect(Array.from(result.nCells)).toEqual(stored.n_cells);
      });

      it('agrees on mean, variance and fraction expressing (masked alike)', () => {
        rows(result.mean).forEach((row, g) =>
          expectAgreeAll(row, stored.mean[g], AGGREGATE_TOL, `mean[${g}]`)
        );
        rows(result.variance).forEach((row, g) =>
          expectAgreeAll(row, stored.var[g], AGGREGATE_TOL, `var[${g}]`)
        );
        rows(result.fracExpressing).forEach((row, g) =>
          expectAgreeAll(
            row,
            stored.frac_expressing[g],
            AGGREGATE_TOL,
            `frac[${g}]`
          )
        );
      });

      it('agrees on the sufficient statistics Σx and Σx²', () => {
        inputs.cells.genes.forEach((gene, j) => {
          const stats = groupStats(
            geneColumns.get(gene) as Float32Array,
            codes,
            nGroups
          );
          expectAgreeAll(
            stats.sum,
            stored.sum[j],
            AGGREGATE_TOL,
            `sum ${gene}`
          );
          expectAgreeAll(
            stats.sumSq,
            stored.sum_sq[j],
            AGGREGATE_TOL,
            `sumSq ${gene}`
          );
        });
      });
    }
  );

  it.each([
    ['zscore', 'zscore', 2.5],
    ['zscore_unclipped', 'zscore', null],
    ['minmax', 'minmax', null]
  ] as [keyof IFixture['outputs']['scaled'], RowScaling, number | null][])(
    'scales rows alike: %s',
    (name, method, clip) => {
      const { mean } = aggregate(geneColumns, crossed, nPhase * nLouvain, {
        minCells: inputs.min_cells
      });
      const scaled = scaleRows(mean, method, { clip });
      const stored = outputs.scaled[name];
      rows(scaled).forEach((row, g) =>
        expectAgreeAll(row, stored.matrix[g], AGGREGATE_TOL, `${name}[${g}]`)
      );
      expect(Array.from(scaled.constantRows, Boolean)).toEqual(
        stored.constant_rows
      );
    }
  );

  it.each([
    ['euclidean', 'rows'],
    ['euclidean', 'columns'],
    ['correlation', 'rows'],
    ['correlation', 'columns']
  ] as [DistanceMetric, 'rows' | 'columns'][])(
    'clusters a real heatmap like scipy: %s, %s',
    (metric, axis) => {
      const result = hclust(fromRows(inputs.heatmap.matrix), {
        metric,
        axis
      });
      const stored = outputs.hclust[`${metric}_${axis}`];
      expect(result.leaves).toEqual(stored.leaves);
      expectAgreeAll(
        result.linkage,
        stored.linkage.flat(),
        1e-9,
        `linkage ${metric} ${axis}`
      );
      expectAgreeAll(
        result.icoord.flat(),
        stored.icoord.flat(),
        1e-9,
        'icoord'
      );
      expectAgreeAll(
        result.dcoord.flat(),
        stored.dcoord.flat(),
        1e-9,
        'dcoord'
      );
    }
  );

  function expectSameMarkers(
    actual: IMarker[][],
    stored: IStoredMarker[]
  ): void {
    const flat = actual.flat();
    expect(flat.map(m => [m.group, m.rank, m.gene])).toEqual(
      stored.map(m => [m.group, m.rank, m.gene])
    );
    flat.forEach((marker, i) => {
      const where = `group ${marker.group} rank ${marker.rank}`;
      expectAgree(marker.score, stored[i].score, MARKER_TOL, `${where} score`);
      expectAgree(
        marker.logFoldChange,
        stored[i].logfoldchange,
        MARKER_TOL,
        `${where} logfoldchange`
      );
      expectAgree(
        marker.pval,
        stored[i].pval,
        MARKER_TOL,
        `${where} pval`,
        true
      );
      expectAgree(
        marker.pvalAdj,
        stored[i].pval_adj,
        MARKER_TOL,
        `${where} pval_adj`,
        true
      );
    });
  }

  it('finds the same Welch markers from cells (rest includes ungrouped cells)', () => {
    const genes = inputs.cells.genes;
    const nGenes = genes.length;
    const n = new Float64Array(nLouvain);
    const sum = new Float64Array(nLouvain * nGenes);
    const sumSq = new Float64Array(nLouvain * nGenes);
    const total = {
      n: louvain.length,
      sum: new Float64Array(nGenes),
      sumSq: new Float64Array(nGenes)
    };
    const everyCell = new Int32Array(louvain.length);
    genes.forEach((gene, j) => {
      const column = geneColumns.get(gene) as Float32Array;
      const stats = groupStats(column, louvain, nLouvain);
      for (let g = 0; g < nLouvain; g++) {
        n[g] = stats.n[g];
        sum[g * nGenes + j] = stats.sum[g];
        sumSq[g * nGenes + j] = stats.sumSq[g];
      }
      const all = groupStats(column, everyCell, 1);
      total.sum[j] = all.sum[0];
      total.sumSq[j] = all.sumSq[0];
    });
    const moments: IGroupMoments = {
      nGroups: nLouvain,
      nGenes,
      n,
      sum,
      sumSq,
      total
    };
    expectSameMarkers(
      rankMarkers(moments, { nTop: 5 }),
      outputs.markers.from_cells
    );
  });

  it('finds the same Welch markers from stored moments of 700 cells × 80 genes', () => {
    const stored = inputs.marker_moments;
    const moments: IGroupMoments = {
      nGroups: stored.n.length,
      nGenes: stored.genes.length,
      n: Float64Array.from(stored.n),
      sum: Float64Array.from(stored.sum.flat()),
      sumSq: Float64Array.from(stored.sum_sq.flat()),
      total: {
        n: stored.total_n,
        sum: Float64Array.from(stored.total_sum),
        sumSq: Float64Array.from(stored.total_sum_sq)
      }
    };
    expectSameMarkers(
      rankMarkers(moments, { nTop: 10 }),
      outputs.markers.from_moments
    );
  });

  it("gives Δr of two correlations as Python's fisher_z_difference", () => {
    const expected = outputs.correlation_differences;
    inputs.correlation_differences.forEach(([r1, n1, r2, n2], k) => {
      const got = correlationDifference(r1, n1, r2, n2);
      const pairs: [keyof ICorrelationDifference, Num][] = [
        ['deltaR', expected.delta_r[k]],
        ['ciLow', expected.delta_r_ci_low[k]],
        ['ciHigh', expected.delta_r_ci_high[k]],
        ['z', expected.z[k]]
      ];
      for (const [ts, py] of pairs) {
        expectAgree(got[ts], py, 1e-12, `case ${k} ${ts}`);
      }
      expectAgree(got.p, expected.p[k], 1e-9, `case ${k} p`, true);
    });
  });

  const correlationCases = outputs.correlations.map(
    c =>
      [
        `${c.gene_x}~${c.gene_y} by ${c.grouping}${c.detected_only ? ', detected only' : ''}`,
        c
      ] as const
  );

  it.each(correlationCases)('correlates alike: %s', (_, stored) => {
    const codes = stored.grouping === 'louvain' ? louvain : phase;
    const nGroups = stored.grouping === 'louvain' ? nLouvain : nPhase;
    const result = correlateByGroup(
      geneColumns.get(stored.gene_x) as Float32Array,
      geneColumns.get(stored.gene_y) as Float32Array,
      codes,
      nGroups,
      {
        detectedOnly: stored.detected_only,
        nBoot: stored.n_boot,
        seed: stored.seed
      }
    );
    expect(result).toHaveLength(stored.groups.length);
    // The Δr path's cheaper Pearson per group gives the same r and n
    const cheap = pearsonByGroup(
      geneColumns.get(stored.gene_x) as Float32Array,
      geneColumns.get(stored.gene_y) as Float32Array,
      codes,
      nGroups,
      stored.detected_only
    );
    stored.groups.forEach((expected, g) => {
      expect(cheap.n[g]).toBe(expected.n_cells);
      expectAgree(cheap.r[g], expected.pearson_r, CORRELATION_TOL, `r ${g}`);
    });
    const fields: [keyof ICorrelation, keyof IStoredCorrelation][] = [
      ['pearsonR', 'pearson_r'],
      ['pearsonCiLow', 'pearson_ci_low'],
      ['pearsonCiHigh', 'pearson_ci_high'],
      ['spearmanRho', 'spearman_rho'],
      ['spearmanCiLow', 'spearman_ci_low'],
      ['spearmanCiHigh', 'spearman_ci_high'],
      ['fracDoublePositive', 'frac_double_positive']
    ];
    result.forEach((group, g) => {
      const expected = stored.groups[g];
      expect(group.group).toBe(expected.group);
      expect(group.nCells).toBe(expected.n_cells);
      expect(group.reason === null).toBe(expected.reason === null);
      for (const [ts, py] of fields) {
        expectAgree(
          group[ts] as number,
          expected[py] as Num,
          CORRELATION_TOL,
          `group ${g} ${py}`
        );
      }
      for (const [ts, py] of [
        ['pearsonP', 'pearson_p'],
        ['spearmanP', 'spearman_p']
      ] as const) {
        expectAgree(
          group[ts],
          expected[py],
          CORRELATION_TOL,
          `group ${g} ${py}`,
          true
        );
      }
    });
  });

  // Far tighter than the 1e-6 bar of the statistics; the t p-value is 4e-12 off at
  // df = 5e5 (see distributions.ts), where scipy matches 50-digit mpmath
  it('agrees with scipy.special on the distributions behind the p-values', () => {
    const cases = inputs.distributions;
    const stored = outputs.distributions;
    expectAgreeAll(
      cases.t_two_sided.map(([t, df]) => studentTTwoSidedP(t, df)),
      stored.t_two_sided,
      1e-11,
      't_two_sided',
      true
    );
    expectAgreeAll(
      cases.beta_inc.map(([a, b, x]) => betaIncReg(a, b, x)),
      stored.beta_inc,
      1e-11,
      'beta_inc',
      true
    );
    expectAgreeAll(
      cases.normal_quantile.map(([p]) => normalQuantile(p)),
      stored.normal_quantile,
      1e-12,
      'normal_quantile',
      true
    );
    expectAgreeAll(
      cases.normal_cdf.map(([z]) => normalCdf(z)),
      stored.normal_cdf,
      1e-12,
      'normal_cdf',
      true
    );
  });
});

interface IConservedCase {
  name: string;
  genes: string[];
  group_labels: string[][];
  clusters: string[];
  datasets: string[];
  n: number[];
  sum: number[][];
  sum_sq: number[][];
  log_base: number | null;
  min_cells: number;
  alpha: number;
  n_top: number;
}

interface IConservedOutput {
  tested: boolean[];
  n_cells: number[];
  n_rest: number[];
  score: Num[][];
  logfoldchange: Num[][];
  pval: Num[][];
  pval_adj: Num[][];
  category: string[][];
  specific_to: number[][];
  max: IConservedCombination;
  fisher: IConservedCombination;
}

interface IConservedCombination {
  combined_p: Num[][];
  table: {
    cluster: number[];
    category: string[];
    specific_to: number[];
    rank: number[];
    gene: number[];
    combined_p: number[];
  };
}

const conservedFixture = JSON.parse(
  readFileSync(
    join(__dirname, '..', '..', '..', 'conformance', 'conserved_fixture.json'),
    'utf8'
  )
) as {
  inputs: { cases: IConservedCase[] };
  outputs: Record<string, IConservedOutput>;
};

describe('cross-implementation fixture: conserved markers', () => {
  describe.each(conservedFixture.inputs.cases.map(c => [c.name, c] as const))(
    '%s',
    (name, input) => {
      const stored = conservedFixture.outputs[name];
      const moments = {
        genes: input.genes,
        groupLabels: input.group_labels,
        n: Float64Array.from(input.n),
        sum: Float64Array.from(input.sum.flat()),
        sumSq: Float64Array.from(input.sum_sq.flat()),
        logBase: input.log_base
      };
      const options = {
        alpha: input.alpha,
        minCells: input.min_cells,
        n: input.n_top
      };
      const stats = conservedStatistics(moments, options);
      const nGenes = input.genes.length;

      it('tests the same cluster × dataset pairs, datasets left out alike', () => {
        expect(stats.clusters).toEqual(input.clusters);
        expect(stats.datasets).toEqual(input.datasets);
        expect(stats.tested).toEqual(stored.tested);
        expect(Array.from(stats.nCells)).toEqual(stored.n_cells);
        expect(Array.from(stats.nRest)).toEqual(stored.n_rest);
        expect(stored.tested.some(tested => !tested)).toBe(true);
      });

      it('agrees on every per-dataset score, fold change, p and adjusted p', () => {
        stored.tested.forEach((_, pair) => {
          const slice = (values: Float64Array): Float64Array =>
            values.subarray(pair * nGenes, (pair + 1) * nGenes);
          const where = `pair ${pair}`;
          expectAgreeAll(
            slice(stats.score),
            stored.score[pair],
            MARKER_TOL,
            `${where} score`
          );
          expectAgreeAll(
            slice(stats.logFoldChange),
            stored.logfoldchange[pair],
            MARKER_TOL,
            `${where} logfoldchange`
          );
          expectAgreeAll(
            slice(stats.pval),
            stored.pval[pair],
            MARKER_TOL,
            `${where} pval`,
            true
          );
          expectAgreeAll(
            slice(stats.pvalAdj),
            stored.pval_adj[pair],
            MARKER_TOL,
            `${where} pval_adj`,
            true
          );
        });
      });

      it('classifies every gene alike', () => {
        expect(stats.category).toEqual(stored.category.flat());
        expect(Array.from(stats.specificTo)).toEqual(stored.specific_to.flat());
        expect(stats.category).toContain('conserved');
        expect(stats.category).toContain('specific');
      });

      it.each(['max', 'fisher'] as CombineMethod[])(
        'combines the p-values alike and ranks the same table: %s',
        combine => {
          const combined = stored[combine];
          const ours = conservedStatistics(moments, { ...options, combine });
          expectAgreeAll(
            ours.combinedP,
            combined.combined_p.flat(),
            MARKER_TOL,
            `${combine} combined p`,
            true
          );
          const { rows } = conservedMarkers(moments, { ...options, combine });
          const table = combined.table;
          expect(
            rows.map(row => [
              row.cluster,
              row.category,
              row.specificTo,
              row.rank,
              row.gene
            ])
          ).toEqual(
            table.gene.map((gene, i) => [
              input.clusters[table.cluster[i]],
              table.category[i],
              table.specific_to[i] < 0
                ? null
                : input.datasets[table.specific_to[i]],
              table.rank[i],
              input.genes[gene]
            ])
          );
          rows.forEach((row, i) => {
            expectAgree(
              row.combinedP,
              table.combined_p[i],
              MARKER_TOL,
              `${combine} row ${i} combined p`,
              true
            );
            const k = table.cluster[i];
            row.perDataset.forEach((values, d) => {
              const pair = k * input.datasets.length + d;
              const j = table.gene[i];
              expect(values.tested).toBe(stored.tested[pair]);
              expectAgree(
                values.pval,
                stored.pval[pair][j],
                MARKER_TOL,
                `${combine} row ${i} pval ${values.dataset}`,
                true
              );
              expectAgree(
                values.logFoldChange,
                stored.logfoldchange[pair][j],
                MARKER_TOL,
                `${combine} row ${i} logfc ${values.dataset}`
              );
            });
          });
        }
      );
    }
  );
});
