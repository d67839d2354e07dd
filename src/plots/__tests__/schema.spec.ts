/**
 * The plot-spec schema (exprscope/plot_spec.schema.json) is the one declaration of the
 * format: the reader's defaults, the views' limits, the reproduce-cell writers' argument
 * names and the document are held to it here (Python reads it directly, and
 * exprscope/tests/test_spec_schema.py holds the R helper to it).
 */
import * as fs from 'fs';
import * as path from 'path';

import { reproduceCode } from '../../export/reproduce';
import { MAX_MARKERS } from '../heatmap/settings';
import { IDualSpec, IHeatmapSpec, parseSpec, PLOT_SPEC_SCHEMA } from '../spec';

type Kind = 'heatmap' | 'dual_expression';
type Property = {
  default?: unknown;
  maximum?: number;
  'x-python'?: string;
  'x-r'?: string;
  'x-argument-of'?: string[];
};

const properties = (part: 'common' | Kind): Record<string, Property> =>
  (PLOT_SPEC_SCHEMA.$defs[part] as any).properties;

const MINIMAL: Record<Kind, Record<string, unknown>> = {
  heatmap: { exprscope_spec: 1, kind: 'heatmap', object: 'a', matrix: 'X' },
  dual_expression: {
    exprscope_spec: 1,
    kind: 'dual_expression',
    object: 'a',
    matrix: 'X',
    gene_x: 'A',
    gene_y: 'B'
  }
};

describe('the plot spec schema', () => {
  it.each(['heatmap', 'dual_expression'] as Kind[])(
    'gives the reader its defaults (%s)',
    kind => {
      const spec = parseSpec(MINIMAL[kind]) as unknown as Record<
        string,
        unknown
      >;
      const declared = { ...properties('common'), ...properties(kind) };
      for (const [key, property] of Object.entries(declared)) {
        if ('default' in property && key !== 'version') {
          expect({ key, value: spec[key] }).toEqual({
            key,
            value: property.default
          });
        }
      }
      // Every key the reader writes is declared, in the declared order
      expect(Object.keys(spec)).toEqual(Object.keys(declared));
    }
  );

  it('bounds top N as the views do', () => {
    expect(properties('heatmap').top_n.maximum).toBe(MAX_MARKERS);
  });

  const heatmap: IHeatmapSpec = parseSpec({
    ...MINIMAL.heatmap,
    matrix: 'layers/counts',
    genes: ['A'],
    value: 'log2fc',
    reference: 'ctrl',
    target: 'stim',
    sample_column: 'donor',
    compare_method: 'pseudobulk',
    dataset_column: 'dataset',
    cluster_column: 'cluster',
    clusters: ['0']
  }) as IHeatmapSpec;
  const markers: IHeatmapSpec = {
    ...heatmap,
    gene_source: 'markers',
    value: 'mean'
  };
  const dual = parseSpec({
    ...MINIMAL.dual_expression,
    matrix: 'layers/counts',
    embedding: 'X_umap'
  }) as IDualSpec;

  /** The keyword arguments of a generated call. */
  const keywords = (code: string, language: 'python' | 'r'): Set<string> => {
    const pattern = language === 'python' ? /^ {4}(\w+)=/ : /^ {2}(\w+) = /;
    return new Set(
      code
        .split('\n')
        .map(line => pattern.exec(line)?.[1])
        .filter((k): k is string => !!k)
    );
  };
  /** The schema's argument names of a kind (positional ones left out). */
  const declaredArguments = (kind: Kind, language: 'x-python' | 'x-r') =>
    new Set(
      Object.values({ ...properties('common'), ...properties(kind) })
        .filter(p => !p['x-argument-of'] || p['x-argument-of'].includes(kind))
        .map(p => p[language])
        .filter((a): a is string => !!a)
    );

  it.each([
    ['python', 'x-python', ['adata', 'genes', 'gene_x', 'gene_y'], ['use_raw']],
    ['r', 'x-r', ['object'], []]
  ] as const)(
    'names the reproduce-cell arguments (%s)',
    (language, annotation, positional, extra) => {
      // AnnData matrices in Python (X: layer and use_raw), Seurat ones in R
      const matrix = language === 'python' ? 'X' : 'RNA/counts';
      const heatmapArgs = new Set([
        ...keywords(reproduceCode({ ...heatmap, matrix }, language), language),
        ...keywords(reproduceCode({ ...markers, matrix }, language), language)
      ]);
      const dualArgs = keywords(
        reproduceCode({ ...dual, matrix }, language),
        language
      );
      for (const [kind, used] of [
        ['heatmap', heatmapArgs],
        ['dual_expression', dualArgs]
      ] as const) {
        const declared = declaredArguments(kind, annotation);
        const expected = new Set(
          [...declared, ...extra].filter(
            a => !(positional as readonly string[]).includes(a)
          )
        );
        // genes: a keyword in R only
        if (language === 'r' && kind === 'heatmap') {
          expected.add('genes');
        }
        expect([...used].sort()).toEqual([...expected].sort());
      }
    }
  );

  it('is what docs/plot-spec.md documents: every key, with its default', () => {
    const doc = fs.readFileSync(
      path.resolve(__dirname, '../../../docs/plot-spec.md'),
      'utf-8'
    );
    const rows = new Map(
      doc
        .split('\n')
        .map(line => /^\| `(\w+)`\s*\|(.*)\|$/.exec(line))
        .filter((m): m is RegExpExecArray => m !== null)
        .map(m => [m[1], m[2]])
    );
    for (const part of ['common', 'heatmap', 'dual_expression'] as const) {
      for (const [key, property] of Object.entries(properties(part))) {
        if (key === 'kind' && part !== 'common') {
          continue;
        }
        expect({ key, documented: rows.has(key) }).toEqual({
          key,
          documented: true
        });
        if (part !== 'common' && 'default' in property) {
          expect(rows.get(key)).toContain(
            '`' + JSON.stringify(property.default) + '`'
          );
        }
      }
    }
  });
});
