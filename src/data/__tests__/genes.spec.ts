import { GeneIndex, splitGeneList } from '../genes';

describe('splitGeneList', () => {
  it('splits on commas, semicolons, spaces and newlines', () => {
    expect(splitGeneList(' ISG15, IFI6;CD3E\nMS4A1\t LYZ ,, ')).toEqual([
      'ISG15',
      'IFI6',
      'CD3E',
      'MS4A1',
      'LYZ'
    ]);
  });

  it('returns nothing for blank input', () => {
    expect(splitGeneList('  \n ,; ')).toEqual([]);
  });
});

describe('GeneIndex', () => {
  const index = new GeneIndex([
    'CD3E',
    'CD3D',
    'ISG15',
    'ISG20',
    'IFI6',
    'HLA-DRA',
    'Foo',
    'FOO',
    'CCD3'
  ]);

  it('ranks exact, then prefix, then substring matches', () => {
    expect(index.search('cd3')).toEqual(['CD3E', 'CD3D', 'CCD3']);
    expect(index.search('isg15')).toEqual(['ISG15']);
    expect(index.search('ISG')).toEqual(['ISG15', 'ISG20']);
  });

  it('limits the number of suggestions', () => {
    expect(index.search('D', 2)).toHaveLength(2);
    expect(index.search('')).toEqual([]);
  });

  it('resolves pasted lists case-insensitively, keeping the object spelling', () => {
    const res = index.resolve(['isg15', 'IFI6', 'ifi6', 'NOPE', 'hla-dra']);
    expect(res.found).toEqual(['ISG15', 'IFI6', 'HLA-DRA']);
    expect(res.unknown).toEqual(['NOPE']);
    expect(res.ambiguous).toEqual([]);
  });

  it('reports case-insensitive ambiguity but accepts exact spelling', () => {
    expect(index.resolve(['foo']).ambiguous).toEqual([
      { input: 'foo', candidates: ['Foo', 'FOO'] }
    ]);
    expect(index.resolve(['FOO']).found).toEqual(['FOO']);
  });

  it('finds genes in a genome-sized list', () => {
    const many = Array.from({ length: 30000 }, (_, i) => `GENE${i}`);
    const big = new GeneIndex(many);
    expect(big.size).toBe(30000);
    expect(big.search('gene2999', 3)).toEqual([
      'GENE2999',
      'GENE29990',
      'GENE29991'
    ]);
  });
});
