import {
  differenceMatrix,
  IComparisonRows,
  significanceMark,
  topChangedGenes
} from '../difference';

function rows(entries: [string, string, number, number][]): IComparisonRows {
  return {
    gene: entries.map(e => e[0]),
    cluster: entries.map(e => e[1]),
    log2fc: Float64Array.from(entries.map(e => e[2])),
    stat: Float64Array.from(entries.map(e => e[2] * 3)),
    pvalue: Float64Array.from(entries.map(e => e[3] / 2)),
    padj: Float64Array.from(entries.map(e => e[3]))
  };
}

const TABLE = rows([
  ['ISG15', '0', 4.2, 1e-12],
  ['IFI6', '0', 3.1, 1e-12],
  ['CD14', '0', -0.4, 0.2],
  ['MS4A1', '0', NaN, NaN],
  ['ISG15', '3', 2.5, 1e-4],
  ['IFI6', '3', -5.5, 0.004],
  ['CD14', '3', 0.1, 0.9],
  ['MS4A1', '3', 1.0, 0.03]
]);

describe('significanceMark', () => {
  it('marks adjusted p below 0.05, 0.01 and 0.001, nothing otherwise', () => {
    expect(
      [0.0005, 0.001, 0.005, 0.04, 0.05, 0.5, NaN].map(significanceMark)
    ).toEqual(['***', '**', '**', '*', '', '', '']);
  });
});

describe('topChangedGenes', () => {
  it('ranks by adjusted p, ties by |log2FC|, untested genes last, per cluster', () => {
    const top = topChangedGenes(TABLE, 3, ['3', '0']);
    expect(top.map(g => `${g.cluster}:${g.gene}`)).toEqual([
      '3:ISG15',
      '3:IFI6',
      '3:MS4A1',
      '0:ISG15',
      '0:IFI6',
      '0:CD14'
    ]);
    expect(topChangedGenes(TABLE, 10, ['0']).map(g => g.gene)).toEqual([
      'ISG15',
      'IFI6',
      'CD14',
      'MS4A1'
    ]);
    expect(topChangedGenes(TABLE, 2, ['7'])).toEqual([]);
    expect(topChangedGenes(TABLE, 0, ['0'])).toEqual([]);
  });
});

describe('differenceMatrix', () => {
  it('puts every cluster on one symmetric scale, with marks and untested columns empty', () => {
    const m = differenceMatrix(
      TABLE,
      ['ISG15', 'IFI6', 'NOPE', 'MS4A1'],
      ['0', '3', '5']
    );
    expect(m.genes).toEqual(['ISG15', 'IFI6', 'MS4A1']);
    expect(m.missingGenes).toEqual(['NOPE']);
    expect(m.clusters).toEqual(['0', '3', '5']);
    expect(m.log2fc).toEqual([
      [4.2, 2.5, null],
      [3.1, -5.5, null],
      [null, 1.0, null]
    ]);
    expect(m.marks).toEqual([
      ['***', '***', ''],
      ['***', '**', ''],
      ['', '*', '']
    ]);
    expect(m.limit).toBe(5.5);
    expect(m.padj[1][1]).toBe(0.004);
  });

  it('keeps a minimum range when every change is small', () => {
    const m = differenceMatrix(TABLE, ['CD14'], ['0', '3'], 1);
    expect(m.limit).toBe(1);
  });
});
