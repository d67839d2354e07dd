// Over 600 lines: the plot spec's parse, serialize and settings<->spec mapping for both plot kinds read the same declared schema; a per-kind split is next.
/**
 * The plot specification (docs/plot-spec.md): one JSON object that describes a plot
 * completely. Copied and loaded by the sidebar, written into every exported file and
 * turned into Python code by "Insert into notebook".
 *
 * Keys are snake_case because Python (`exprscope/spec.py`) reads the same JSON.
 */
import type { IDualSettings } from './dual/controller';
import {
  DEFAULT_DUAL_OPTIONS,
  DualColorBy,
  DualDensity,
  DualFacetBy
} from './dual/model';
import {
  CompareMethodChoice,
  DEFAULT_HEATMAP_SETTINGS,
  GeneSource,
  IHeatmapSettings,
  MarkerMethod
} from './heatmap/settings';
import {
  HeatmapGroupBy,
  HeatmapValue,
  parseClusterList
} from './heatmap/model';
import schema from '../../exprscope/plot_spec.schema.json';

/**
 * The one declaration of the format (exprscope/plot_spec.schema.json): the enums, bounds
 * and key order below are read from it; the defaults (the views' own) are held to it by
 * `__tests__/schema.spec.ts`.
 */
export const PLOT_SPEC_SCHEMA = schema;

type SchemaKind = 'common' | 'heatmap' | 'dual_expression';

interface ISchemaProperty {
  type?: string | string[];
  enum?: string[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  'x-python'?: string;
  'x-r'?: string;
  'x-argument-null'?: string;
  'x-argument-of'?: string[];
  'x-argument-when'?: Record<string, string[]>;
  'x-argument-unless'?: Record<string, string[]>;
}

/** How a spec key travels as an argument of the notebook functions (its schema annotations). */
export interface ISpecArgument {
  /** The spec key. */
  key: string;
  /** The argument's name in Python (`x-python`) and in R (`x-r`). */
  python: string;
  r: string;
  /** The spec value the argument spells as None / NULL (`x-argument-null`). */
  nullValue?: string;
  /** Passed only when these spec keys hold one of these values (`x-argument-when`). */
  when?: Record<string, string[]>;
  /** Not passed when these spec keys hold one of these values (`x-argument-unless`). */
  unless?: Record<string, string[]>;
}

/** Where `key` stands in the functions' argument order (`x-argument-order` of its kind). */
function argumentRank(order: string[], key: string, kind: PlotKind): number {
  const rank = order.indexOf(key);
  const property =
    schemaProperties('common')[key] ?? schemaProperties(kind)[key];
  const isArgument =
    property?.['x-python'] &&
    (!property['x-argument-of'] || property['x-argument-of'].includes(kind));
  if (rank < 0 && isArgument) {
    throw new Error(
      `The plot spec schema's x-argument-order of ${kind} lacks the argument "${key}".`
    );
  }
  return rank < 0 ? order.length : rank;
}

/**
 * A kind's arguments in the order of the notebook functions' parameters (`x-argument-order`):
 * every key the schema gives a Python and an R argument name, with its conditions.
 */
export function specArguments(kind: PlotKind): ISpecArgument[] {
  const properties = {
    ...schemaProperties('common'),
    ...schemaProperties(kind)
  };
  const order = (schema.$defs[kind] as { 'x-argument-order': string[] })[
    'x-argument-order'
  ];
  const entries = Object.entries(properties).sort(
    ([a], [b]) => argumentRank(order, a, kind) - argumentRank(order, b, kind)
  );
  return entries
    .filter(
      ([, p]) =>
        p['x-python'] &&
        p['x-r'] &&
        (!p['x-argument-of'] || p['x-argument-of'].includes(kind))
    )
    .map(([key, p]) => ({
      key,
      python: p['x-python']!,
      r: p['x-r']!,
      nullValue: p['x-argument-null'],
      when: p['x-argument-when'],
      unless: p['x-argument-unless']
    }));
}

function schemaProperties(kind: SchemaKind): Record<string, ISchemaProperty> {
  return (schema.$defs[kind] as { properties: Record<string, ISchemaProperty> })
    .properties;
}

/** The allowed values of an enum key. */
function enumOf<T extends string>(kind: SchemaKind, key: string): readonly T[] {
  const values = schemaProperties(kind)[key]?.enum;
  if (!values) {
    throw new Error(`The plot spec schema has no enum "${key}" in ${kind}.`);
  }
  return values as T[];
}

/** The bounds of an integer key ([min, max], unbounded as ±MAX_SAFE_INTEGER). */
function boundsOf(kind: SchemaKind, key: string): [number, number] {
  const property = schemaProperties(kind)[key];
  return [
    property?.minimum ?? Number.MIN_SAFE_INTEGER,
    property?.maximum ?? Number.MAX_SAFE_INTEGER
  ];
}

/** A kind's keys in the order of a written spec (common keys first). */
function keysOf(kind: 'heatmap' | 'dual_expression'): string[] {
  return [
    ...Object.keys(schemaProperties('common')),
    ...Object.keys(schemaProperties(kind)).filter(key => key !== 'kind')
  ];
}

/** The format version written and the only one read. */
export const SPEC_FORMAT = schema.$defs.common.properties.exprscope_spec.const;

export type PlotKind = 'heatmap' | 'dual_expression';
export type RowScalingName = 'none' | 'zscore' | 'minmax';
export type HeatmapMetric = 'euclidean' | 'correlation';

interface ICommonSpec {
  exprscope_spec: 1;
  kind: PlotKind;
  /** exprscope version that wrote it (informational). */
  version: string;
  /** Name of the object in the kernel (a plain name, never code). */
  object: string;
  /** Matrix id: `X`, `raw`, `layers/<name>` (R: `<assay>/<slot>`). */
  matrix: string;
  dataset_column: string | null;
  cluster_column: string | null;
  /** The sample (replicate, donor) column; null: none (comparisons test cells). */
  sample_column: string | null;
  /** Clusters kept; null: all. Never empty. */
  clusters: string[] | null;
}

export interface IHeatmapSpec extends ICommonSpec {
  kind: 'heatmap';
  gene_source: GeneSource;
  genes: string[];
  top_n: number;
  /** gene_source "markers": the test ranking them ("auto": stored, else t-test). */
  marker_method: MarkerMethod;
  group_by: HeatmapGroupBy;
  value: HeatmapValue;
  /** value "log2fc": the dataset compared against (required then). */
  reference: string | null;
  /** value "log2fc": the dataset compared; null: the one other dataset. */
  target: string | null;
  /** value "log2fc": "auto" is pseudobulk with a sample column, else Wilcoxon. */
  compare_method: CompareMethodChoice;
  scaling: RowScalingName;
  zscore_clip: number;
  min_cells: number;
  cluster_genes: boolean;
  cluster_columns: boolean;
  metric: HeatmapMetric;
}

export interface IDualSpec extends ICommonSpec {
  kind: 'dual_expression';
  gene_x: string;
  gene_y: string;
  color_by: DualColorBy;
  facet_by: DualFacetBy;
  detected_only: boolean;
  jitter: boolean;
  density: DualDensity;
  marginals: boolean;
  n_boot: number;
  seed: number;
  embedding: string | null;
}

export type IPlotSpec = IHeatmapSpec | IDualSpec;

/** A spec that cannot be read; `key` names the offending key (null: the whole value). */
export class SpecError extends Error {
  constructor(
    readonly key: string | null,
    message: string
  ) {
    super(message);
    this.name = 'SpecError';
  }
}

// ---------------------------------------------------------------------------- reading

type Json = Record<string, unknown>;

function fail(key: string, expected: string, value: unknown): never {
  if (value === undefined) {
    throw new SpecError(
      key,
      `Plot parameters: "${key}" is missing (it must be ${expected}).`
    );
  }
  let shown: string;
  try {
    shown = JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  if (shown.length > 60) {
    shown = shown.slice(0, 57) + '...';
  }
  throw new SpecError(
    key,
    `Plot parameters: "${key}" must be ${expected} (got ${shown}).`
  );
}

function str(o: Json, key: string, fallback?: string): string {
  const v = o[key];
  if (v === undefined && fallback !== undefined) {
    return fallback;
  }
  if (typeof v !== 'string') {
    fail(key, 'a string', v);
  }
  return v;
}

function name(o: Json, key: string): string {
  const v = str(o, key);
  if (v === '') {
    fail(key, 'a non-empty string', v);
  }
  return v;
}

function nullableStr(o: Json, key: string): string | null {
  const v = o[key];
  if (v === undefined || v === null) {
    return null;
  }
  if (typeof v !== 'string' || v === '') {
    fail(key, 'a non-empty string or null', v);
  }
  return v;
}

function strList(o: Json, key: string): string[] | undefined {
  const v = o[key];
  if (v === undefined) {
    return undefined;
  }
  if (!Array.isArray(v) || !v.every(item => typeof item === 'string')) {
    fail(key, 'a list of strings', v);
  }
  return [...v];
}

function bool(o: Json, key: string, fallback: boolean): boolean {
  const v = o[key];
  if (v === undefined) {
    return fallback;
  }
  if (typeof v !== 'boolean') {
    fail(key, 'true or false', v);
  }
  return v;
}

function int(
  o: Json,
  key: string,
  fallback: number,
  min = Number.MIN_SAFE_INTEGER,
  max = Number.MAX_SAFE_INTEGER
): number {
  const v = o[key];
  if (v === undefined) {
    return fallback;
  }
  // Safe integers only: beyond 2^53 JSON numbers would not survive the round trip
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    const range =
      max === Number.MAX_SAFE_INTEGER
        ? min === Number.MIN_SAFE_INTEGER
          ? ''
          : ` ≥ ${min}`
        : ` from ${min} to ${max}`;
    fail(key, `an integer${range}`, v);
  }
  return v;
}

function finite(o: Json, key: string, fallback: number): number {
  const v = o[key];
  if (v === undefined) {
    return fallback;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    fail(key, 'a number', v);
  }
  return v;
}

function choice<T extends string>(
  o: Json,
  key: string,
  allowed: readonly T[],
  fallback: T
): T {
  const v = o[key];
  if (v === undefined) {
    return fallback;
  }
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    fail(key, `one of ${allowed.map(a => `"${a}"`).join(', ')}`, v);
  }
  return v as T;
}

function common(o: Json, kind: PlotKind): ICommonSpec {
  const clusters = o.clusters === null ? undefined : strList(o, 'clusters');
  if (clusters !== undefined && clusters.length === 0) {
    throw new SpecError(
      'clusters',
      'Plot parameters: "clusters" is empty, which keeps no cells; use null to keep all clusters.'
    );
  }
  return {
    exprscope_spec: 1,
    kind,
    version: str(o, 'version', ''),
    object: name(o, 'object'),
    matrix: name(o, 'matrix'),
    dataset_column: nullableStr(o, 'dataset_column'),
    cluster_column: nullableStr(o, 'cluster_column'),
    sample_column: nullableStr(o, 'sample_column'),
    clusters: clusters ?? null
  };
}

/**
 * Read a spec (an object or its JSON text): validates, ignores unknown keys and fills the
 * defaults of docs/plot-spec.md. Throws a `SpecError` naming the key at fault.
 */
export function parseSpec(json: unknown): IPlotSpec {
  let value = json;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch (err) {
      throw new SpecError(
        null,
        `Plot parameters are not valid JSON: ${(err as Error).message}`
      );
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SpecError(
      null,
      'Plot parameters must be a JSON object (as copied by "Copy parameters").'
    );
  }
  const o = value as Json;
  if (o.exprscope_spec === undefined) {
    throw new SpecError(
      'exprscope_spec',
      'These are not exprscope plot parameters: the "exprscope_spec" key is missing.'
    );
  }
  if (o.exprscope_spec !== SPEC_FORMAT) {
    throw new SpecError(
      'exprscope_spec',
      `Plot parameters of format ${JSON.stringify(o.exprscope_spec)} cannot be read: this exprscope reads format ${SPEC_FORMAT}. Use a matching exprscope version.`
    );
  }
  const kind = o.kind;
  if (kind !== 'heatmap' && kind !== 'dual_expression') {
    fail('kind', 'one of "heatmap", "dual_expression"', kind);
  }
  if (kind === 'heatmap') {
    const h = DEFAULT_HEATMAP_SETTINGS;
    const opt = h.options;
    const value = choice(
      o,
      'value',
      enumOf<HeatmapValue>('heatmap', 'value'),
      opt.value
    );
    const reference = nullableStr(o, 'reference');
    if (value === 'log2fc' && reference === null) {
      throw new SpecError(
        'reference',
        'Plot parameters: "reference" is missing: a log2 fold change heatmap needs the dataset to compare against.'
      );
    }
    return {
      ...common(o, kind),
      kind,
      gene_source: choice(
        o,
        'gene_source',
        enumOf('heatmap', 'gene_source'),
        h.geneSource
      ),
      genes: strList(o, 'genes') ?? [],
      top_n: int(o, 'top_n', h.nMarkers, ...boundsOf('heatmap', 'top_n')),
      marker_method: choice(
        o,
        'marker_method',
        enumOf('heatmap', 'marker_method'),
        h.markerMethod
      ),
      group_by: choice(
        o,
        'group_by',
        enumOf('heatmap', 'group_by'),
        opt.groupBy
      ),
      value,
      reference,
      target: nullableStr(o, 'target'),
      compare_method: choice(
        o,
        'compare_method',
        enumOf('heatmap', 'compare_method'),
        h.comparison.method
      ),
      scaling: choice(o, 'scaling', enumOf('heatmap', 'scaling'), opt.scaling),
      zscore_clip: finite(o, 'zscore_clip', opt.zscoreClip),
      min_cells: int(
        o,
        'min_cells',
        opt.minCells,
        ...boundsOf('heatmap', 'min_cells')
      ),
      cluster_genes: bool(o, 'cluster_genes', opt.clusterGenes),
      cluster_columns: bool(o, 'cluster_columns', opt.clusterColumns),
      metric: choice(o, 'metric', enumOf('heatmap', 'metric'), opt.metric)
    };
  }
  const d = DEFAULT_DUAL_OPTIONS;
  return {
    ...common(o, kind),
    kind,
    gene_x: name(o, 'gene_x'),
    gene_y: name(o, 'gene_y'),
    color_by: choice(
      o,
      'color_by',
      enumOf('dual_expression', 'color_by'),
      d.colorBy
    ),
    facet_by: choice(
      o,
      'facet_by',
      enumOf('dual_expression', 'facet_by'),
      d.facetBy
    ),
    detected_only: bool(o, 'detected_only', d.detectedOnly),
    jitter: bool(o, 'jitter', d.jitter),
    density: choice(
      o,
      'density',
      enumOf('dual_expression', 'density'),
      d.density
    ),
    marginals: bool(o, 'marginals', d.marginals),
    n_boot: int(o, 'n_boot', d.nBoot, ...boundsOf('dual_expression', 'n_boot')),
    seed: int(o, 'seed', d.seed, ...boundsOf('dual_expression', 'seed')),
    embedding: nullableStr(o, 'embedding')
  };
}

// ---------------------------------------------------------------------------- writing

const HEATMAP_KEYS = keysOf('heatmap') as readonly (keyof IHeatmapSpec)[];
const DUAL_KEYS = keysOf('dual_expression') as readonly (keyof IDualSpec)[];

export interface ISerializeOptions {
  /** Indentation (as JSON.stringify); default none. */
  indent?: number;
  /**
   * Escape every non-ASCII character as \uXXXX: still the same JSON value, but safe for
   * containers that hold only ASCII (TIFF ImageDescription) or XML 1.0 text.
   */
  ascii?: boolean;
}

/** The spec's JSON text, keys in the documented order and unknown keys left out. */
export function serializeSpec(
  spec: IPlotSpec,
  options: ISerializeOptions = {}
): string {
  const keys: readonly string[] =
    spec.kind === 'heatmap' ? HEATMAP_KEYS : DUAL_KEYS;
  const ordered: Json = {};
  for (const key of keys) {
    ordered[key] = (spec as unknown as Json)[key];
  }
  const text = JSON.stringify(ordered, null, options.indent);
  return options.ascii ? asciiJson(text) : text;
}

/** JSON text with non-ASCII characters escaped (they only occur inside strings). */
export function asciiJson(text: string): string {
  return text.replace(
    /[\u007f-\uffff]/g,
    c => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')
  );
}

// -------------------------------------------------------------- settings <-> spec

/** The sidebar's part of a plot: what the controllers read from the panel selection. */
export interface IPlotContext {
  object: string;
  matrix: string;
  datasetColumn: string | null;
  clusterColumn: string | null;
  sampleColumn: string | null;
  /** Genes selected in the sidebar. */
  genes: readonly string[];
  /** exprscope version written into the spec. */
  version: string;
}

/**
 * The clusters kept by a typed cluster list. With the cluster column's categories the
 * typed text is read exactly as the controller reads it (names with spaces, case); without
 * them names are separated by commas only. Unknown names are dropped, as on the plot.
 */
export function keptClusters(
  text: string,
  categories: readonly string[] | null = null
): string[] | null {
  if (categories) {
    return parseClusterList(text, categories).clusters;
  }
  const names = text
    .split(',')
    .map(part => part.trim())
    .filter(part => part !== '');
  return names.length === 0 ? null : [...new Set(names)];
}

/** The text that `keptClusters` reads back as these clusters. */
export function formatClusterList(clusters: readonly string[] | null): string {
  return clusters === null ? '' : clusters.join(', ');
}

function commonFrom(
  kind: PlotKind,
  context: IPlotContext,
  clusterText: string,
  categories: readonly string[] | null
): ICommonSpec {
  const clusters = keptClusters(clusterText, categories);
  if (clusters !== null && clusters.length === 0) {
    throw new SpecError(
      'clusters',
      `None of the clusters typed ("${clusterText.trim()}") is a cluster of ${context.clusterColumn ?? 'the cluster column'}: the plot keeps no cells.`
    );
  }
  return {
    exprscope_spec: 1,
    kind,
    version: context.version,
    object: context.object,
    matrix: context.matrix,
    dataset_column: context.datasetColumn,
    cluster_column: context.clusterColumn,
    sample_column: context.sampleColumn,
    clusters
  };
}

function contextFrom(spec: IPlotSpec, genes: readonly string[]): IPlotContext {
  return {
    object: spec.object,
    matrix: spec.matrix,
    datasetColumn: spec.dataset_column,
    clusterColumn: spec.cluster_column,
    sampleColumn: spec.sample_column,
    genes: [...genes],
    version: spec.version
  };
}

/**
 * The spec of a heatmap. `clusterCategories` (the cluster column's categories) lets the
 * typed cluster list be read as the plot reads it; see `keptClusters`.
 */
export function heatmapSpecFrom(
  settings: IHeatmapSettings,
  context: IPlotContext,
  clusterCategories: readonly string[] | null = null
): IHeatmapSpec {
  const o = settings.options;
  return {
    ...commonFrom('heatmap', context, settings.clusterText, clusterCategories),
    kind: 'heatmap',
    gene_source: settings.geneSource,
    genes: [...context.genes],
    top_n: settings.nMarkers,
    marker_method: settings.markerMethod,
    group_by: o.groupBy,
    value: o.value,
    reference: settings.comparison.reference,
    target: settings.comparison.target,
    compare_method: settings.comparison.method,
    scaling: o.scaling,
    zscore_clip: o.zscoreClip,
    min_cells: o.minCells,
    cluster_genes: o.clusterGenes,
    cluster_columns: o.clusterColumns,
    metric: o.metric
  };
}

/**
 * Heatmap settings and sidebar context from a spec. Settings the spec does not hold
 * (`options.clusters`, which the controller derives from the text) come from `base`.
 */
export function heatmapSettingsFrom(
  spec: IHeatmapSpec,
  base: IHeatmapSettings = DEFAULT_HEATMAP_SETTINGS
): { settings: IHeatmapSettings; context: IPlotContext } {
  return {
    settings: {
      ...base,
      geneSource: spec.gene_source,
      nMarkers: spec.top_n,
      markerMethod: spec.marker_method,
      clusterText: formatClusterList(spec.clusters),
      comparison: {
        reference: spec.reference,
        target: spec.target,
        method: spec.compare_method
      },
      options: {
        ...base.options,
        groupBy: spec.group_by,
        value: spec.value,
        scaling: spec.scaling,
        zscoreClip: spec.zscore_clip,
        minCells: spec.min_cells,
        clusterGenes: spec.cluster_genes,
        clusterColumns: spec.cluster_columns,
        metric: spec.metric
      }
    },
    context: contextFrom(spec, spec.genes)
  };
}

/** The spec of a dual-expression plot; both genes must be chosen. */
export function dualSpecFrom(
  settings: IDualSettings,
  context: IPlotContext,
  clusterCategories: readonly string[] | null = null
): IDualSpec {
  const { geneX, geneY } = settings;
  if (!geneX || !geneY) {
    throw new SpecError(
      geneX ? 'gene_y' : 'gene_x',
      'Choose two genes before copying or exporting the plot.'
    );
  }
  const o = settings.options;
  return {
    ...commonFrom(
      'dual_expression',
      context,
      settings.clusterText,
      clusterCategories
    ),
    kind: 'dual_expression',
    gene_x: geneX,
    gene_y: geneY,
    color_by: o.colorBy,
    facet_by: o.facetBy,
    detected_only: o.detectedOnly,
    jitter: o.jitter,
    density: o.density,
    marginals: o.marginals,
    n_boot: o.nBoot,
    seed: o.seed,
    embedding: settings.embedding
  };
}

export const DEFAULT_DUAL_SETTINGS: Readonly<IDualSettings> = {
  geneX: null,
  geneY: null,
  embedding: null,
  clusterText: '',
  options: { ...DEFAULT_DUAL_OPTIONS }
};

/**
 * Dual settings and sidebar context (genes: the two genes) from a spec. Options the spec
 * does not hold (density threshold, bins, `statistics`, `clusters`) come from `base`.
 */
export function dualSettingsFrom(
  spec: IDualSpec,
  base: IDualSettings = DEFAULT_DUAL_SETTINGS
): { settings: IDualSettings; context: IPlotContext } {
  return {
    settings: {
      ...base,
      geneX: spec.gene_x,
      geneY: spec.gene_y,
      embedding: spec.embedding,
      clusterText: formatClusterList(spec.clusters),
      options: {
        ...base.options,
        colorBy: spec.color_by,
        facetBy: spec.facet_by,
        detectedOnly: spec.detected_only,
        jitter: spec.jitter,
        density: spec.density,
        marginals: spec.marginals,
        nBoot: spec.n_boot,
        seed: spec.seed
      }
    },
    context: contextFrom(spec, [spec.gene_x, spec.gene_y])
  };
}
