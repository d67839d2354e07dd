import {
  DEFAULT_HEATMAP_SETTINGS,
  IHeatmapSettings
} from '../heatmap/controller';
import type { IDualSettings } from '../dual/controller';
import {
  asciiJson,
  DEFAULT_DUAL_SETTINGS,
  dualSettingsFrom,
  dualSpecFrom,
  formatClusterList,
  heatmapSettingsFrom,
  heatmapSpecFrom,
  IDualSpec,
  IHeatmapSpec,
  IPlotContext,
  keptClusters,
  parseSpec,
  serializeSpec,
  SpecError
} from '../spec';

const NASTY = 'a"b\nc\\d\u2028e\u{1F9EC}f\u00e9';

const CONTEXT: IPlotContext = {
  object: 'adata',
  matrix: 'layers/integrated',
  datasetColumn: 'stim',
  clusterColumn: 'leiden',
  sampleColumn: null,
  genes: ['CD3E', 'MS4A1', NASTY],
  version: '0.1.0'
};

const CATEGORIES = ['0', '3', '7', 'B cells', 'T cells'];

const HEATMAP: IHeatmapSettings = {
  geneSource: 'markers',
  nMarkers: 25,
  markerMethod: 'wilcoxon',
  clusterText: '0, 3, B cells',
  comparison: { reference: null, target: null, method: 'auto' },
  options: {
    ...DEFAULT_HEATMAP_SETTINGS.options,
    groupBy: 'dataset_cluster',
    value: 'dot',
    scaling: 'minmax',
    zscoreClip: 1.75,
    minCells: 0,
    clusterGenes: true,
    clusterColumns: true,
    metric: 'correlation'
  }
};

const DUAL: IDualSettings = {
  ...DEFAULT_DUAL_SETTINGS,
  geneX: 'CD3E',
  geneY: NASTY,
  embedding: 'X_umap',
  clusterText: 'T cells, 7',
  options: {
    ...DEFAULT_DUAL_SETTINGS.options,
    colorBy: 'cluster',
    facetBy: 'dataset_cluster',
    detectedOnly: true,
    jitter: true,
    density: 'on',
    marginals: true,
    nBoot: 0,
    seed: -42
  }
};

function heatmapSpec(patch: Partial<IHeatmapSpec> = {}): IHeatmapSpec {
  return { ...heatmapSpecFrom(HEATMAP, CONTEXT, CATEGORIES), ...patch };
}

function expectSpecError(json: unknown, key: string | null, text: RegExp) {
  let error: unknown = null;
  try {
    parseSpec(json);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(SpecError);
  expect((error as SpecError).key).toBe(key);
  expect((error as SpecError).message).toMatch(text);
}

describe('heatmap spec', () => {
  it('maps every setting onto the documented keys', () => {
    expect(heatmapSpec()).toEqual({
      exprscope_spec: 1,
      kind: 'heatmap',
      version: '0.1.0',
      object: 'adata',
      matrix: 'layers/integrated',
      dataset_column: 'stim',
      cluster_column: 'leiden',
      sample_column: null,
      clusters: ['0', '3', 'B cells'],
      gene_source: 'markers',
      genes: ['CD3E', 'MS4A1', NASTY],
      top_n: 25,
      marker_method: 'wilcoxon',
      group_by: 'dataset_cluster',
      value: 'dot',
      reference: null,
      target: null,
      compare_method: 'auto',
      scaling: 'minmax',
      zscore_clip: 1.75,
      min_cells: 0,
      cluster_genes: true,
      cluster_columns: true,
      metric: 'correlation'
    });
  });

  it('round-trips settings → spec → settings identically', () => {
    for (const settings of [HEATMAP, DEFAULT_HEATMAP_SETTINGS]) {
      const spec = heatmapSpecFrom(settings, CONTEXT, CATEGORIES);
      const back = heatmapSettingsFrom(spec);
      expect(back.settings).toEqual(settings);
      expect(back.context).toEqual(CONTEXT);
    }
  });

  it('round-trips spec → JSON text → spec identically', () => {
    const spec = heatmapSpec();
    for (const text of [
      serializeSpec(spec),
      serializeSpec(spec, { indent: 2 }),
      serializeSpec(spec, { ascii: true })
    ]) {
      expect(parseSpec(text)).toEqual(spec);
      expect(parseSpec(JSON.parse(text))).toEqual(spec);
    }
  });

  it('round-trips spec → settings → spec identically', () => {
    const spec = heatmapSpec({ clusters: null, gene_source: 'selected' });
    const { settings, context } = heatmapSettingsFrom(spec);
    expect(heatmapSpecFrom(settings, context, CATEGORIES)).toEqual(spec);
  });

  it('reads a minimal spec with the defaults', () => {
    expect(
      parseSpec({
        exprscope_spec: 1,
        kind: 'heatmap',
        object: 'adata',
        matrix: 'X'
      })
    ).toEqual({
      exprscope_spec: 1,
      kind: 'heatmap',
      version: '',
      object: 'adata',
      matrix: 'X',
      dataset_column: null,
      cluster_column: null,
      sample_column: null,
      clusters: null,
      gene_source: 'selected',
      genes: [],
      top_n: 10,
      marker_method: 'auto',
      group_by: 'cluster',
      value: 'mean',
      reference: null,
      target: null,
      compare_method: 'auto',
      scaling: 'zscore',
      zscore_clip: 2.5,
      min_cells: 10,
      cluster_genes: false,
      cluster_columns: false,
      metric: 'euclidean'
    });
  });

  it('ignores unknown keys and leaves them out when writing', () => {
    const spec = parseSpec({ ...heatmapSpec(), future_key: [1, 2] });
    expect(spec).toEqual(heatmapSpec());
    expect(serializeSpec(spec)).not.toContain('future_key');
  });

  it('writes the keys in the documented order', () => {
    const keys = Object.keys(JSON.parse(serializeSpec(heatmapSpec())));
    expect(keys.slice(0, 4)).toEqual([
      'exprscope_spec',
      'kind',
      'version',
      'object'
    ]);
    expect(keys[keys.length - 1]).toBe('metric');
  });
});

describe('dual spec', () => {
  it('round-trips settings → spec → settings identically', () => {
    const spec = dualSpecFrom(DUAL, CONTEXT, CATEGORIES);
    expect(spec.clusters).toEqual(['T cells', '7']);
    expect(spec.gene_y).toBe(NASTY);
    const back = dualSettingsFrom(spec);
    expect(back.settings).toEqual(DUAL);
    expect(back.context).toEqual({ ...CONTEXT, genes: ['CD3E', NASTY] });
  });

  it('round-trips spec → JSON text → spec identically', () => {
    const spec: IDualSpec = dualSpecFrom(DUAL, CONTEXT, CATEGORIES);
    expect(parseSpec(serializeSpec(spec))).toEqual(spec);
    expect(parseSpec(serializeSpec(spec, { ascii: true }))).toEqual(spec);
  });

  it('keeps the options a spec does not hold from the base settings', () => {
    const base: IDualSettings = {
      ...DUAL,
      options: { ...DUAL.options, densityBins: 50, statistics: false }
    };
    const spec = dualSpecFrom(DUAL, CONTEXT, CATEGORIES);
    const { settings } = dualSettingsFrom(spec, base);
    expect(settings.options.densityBins).toBe(50);
    expect(settings.options.statistics).toBe(false);
  });

  it('needs both genes', () => {
    expect(() =>
      dualSpecFrom({ ...DUAL, geneY: null }, CONTEXT, CATEGORIES)
    ).toThrow(/two genes/);
  });

  it('fills the dual defaults', () => {
    const spec = parseSpec({
      exprscope_spec: 1,
      kind: 'dual_expression',
      object: 'adata',
      matrix: 'raw',
      gene_x: 'A',
      gene_y: 'B'
    }) as IDualSpec;
    expect(spec).toMatchObject({
      color_by: 'dataset',
      facet_by: 'none',
      detected_only: false,
      jitter: false,
      density: 'auto',
      marginals: false,
      n_boot: 1000,
      seed: 0,
      embedding: null,
      clusters: null
    });
  });
});

describe('cluster lists', () => {
  it('reads typed text as the controller does when the categories are known', () => {
    expect(keptClusters('0 3, b cells', CATEGORIES)).toEqual([
      '0',
      '3',
      'B cells'
    ]);
    expect(keptClusters('  ', CATEGORIES)).toBeNull();
  });

  it('splits on commas without categories', () => {
    expect(keptClusters('B cells, 3,3,')).toEqual(['B cells', '3']);
    expect(formatClusterList(['B cells', '3'])).toBe('B cells, 3');
    expect(formatClusterList(null)).toBe('');
  });

  it('refuses a cluster list that keeps no cells', () => {
    expect(() =>
      heatmapSpecFrom({ ...HEATMAP, clusterText: 'nope' }, CONTEXT, CATEGORIES)
    ).toThrow(/None of the clusters typed \("nope"\) is a cluster of leiden/);
  });
});

describe('parseSpec errors name the key', () => {
  const good = (): Record<string, unknown> =>
    JSON.parse(serializeSpec(heatmapSpec()));

  it.each([
    ['top_n', 0, /"top_n" must be an integer from 1 to 100 \(got 0\)/],
    ['top_n', 2.5, /"top_n" must be an integer from 1 to 100/],
    ['min_cells', -1, /"min_cells" must be an integer ≥ 0 \(got -1\)/],
    ['group_by', 'sample', /"group_by" must be one of "dataset", "cluster"/],
    ['scaling', 'log', /"scaling" must be one of "none", "zscore", "minmax"/],
    ['genes', ['A', 3], /"genes" must be a list of strings/],
    ['genes', 'CD3E', /"genes" must be a list of strings \(got "CD3E"\)/],
    ['cluster_genes', 'yes', /"cluster_genes" must be true or false/],
    ['zscore_clip', '2.5', /"zscore_clip" must be a number/],
    ['object', '', /"object" must be a non-empty string/],
    ['object', 42, /"object" must be a string \(got 42\)/],
    ['matrix', null, /"matrix" must be a string \(got null\)/],
    [
      'dataset_column',
      3,
      /"dataset_column" must be a non-empty string or null/
    ],
    ['kind', 'violin', /"kind" must be one of "heatmap", "dual_expression"/]
  ])('%s = %j', (key, value, message) => {
    expectSpecError({ ...good(), [key]: value }, key, message);
  });

  it('names a missing required key', () => {
    const spec = good();
    delete spec.object;
    expectSpecError(
      spec,
      'object',
      /"object" is missing \(it must be a string\)/
    );
    expectSpecError(
      {
        exprscope_spec: 1,
        kind: 'dual_expression',
        object: 'a',
        matrix: 'X',
        gene_x: 'A'
      },
      'gene_y',
      /"gene_y" is missing/
    );
  });

  it('refuses other format versions and foreign JSON', () => {
    expectSpecError(
      { ...good(), exprscope_spec: 2 },
      'exprscope_spec',
      /format 2 cannot be read: this exprscope reads format 1/
    );
    expectSpecError({ kind: 'heatmap' }, 'exprscope_spec', /missing/);
    expectSpecError('[1, 2]', null, /must be a JSON object/);
    expectSpecError('{"exprscope_spec": 1,', null, /not valid JSON/);
  });

  it('refuses an empty cluster list and large seeds', () => {
    expectSpecError(
      { ...good(), clusters: [] },
      'clusters',
      /use null to keep all clusters/
    );
    const dual = JSON.parse(
      serializeSpec(dualSpecFrom(DUAL, CONTEXT, CATEGORIES))
    );
    expectSpecError(
      { ...dual, seed: 2 ** 60 },
      'seed',
      /"seed" must be an integer/
    );
    expectSpecError({ ...dual, n_boot: -1 }, 'n_boot', /≥ 0/);
  });
});

describe('asciiJson', () => {
  it('keeps the JSON value and leaves only ASCII', () => {
    const text = JSON.stringify({ g: NASTY, h: '\u007f\uffff' });
    const ascii = asciiJson(text);
    expect(ascii).toMatch(/^[\x20-\x7e]*$/);
    expect(JSON.parse(ascii)).toEqual(JSON.parse(text));
  });
});
