import { csvField, toCsv } from '../csv';

/** An RFC 4180 reader, to check that what is written reads back. */
function readCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else {
      field += c;
    }
  }
  expect(field).toBe('');
  expect(row).toEqual([]);
  return rows;
}

describe('CSV', () => {
  it('quotes commas, quotes and line breaks and ends lines with CRLF', () => {
    const csv = toCsv(
      ['gene', 'value'],
      [
        ['a,b', 1],
        ['say "hi"', 2],
        ['two\nlines', 3],
        ['cr\ronly', 4],
        ['plain', 5]
      ]
    );
    expect(csv).toBe(
      'gene,value\r\n"a,b",1\r\n"say ""hi""",2\r\n"two\nlines",3\r\n"cr\ronly",4\r\nplain,5\r\n'
    );
    expect(readCsv(csv)).toEqual([
      ['gene', 'value'],
      ['a,b', '1'],
      ['say "hi"', '2'],
      ['two\nlines', '3'],
      ['cr\ronly', '4'],
      ['plain', '5']
    ]);
  });

  it('writes numbers in full precision and missing values empty', () => {
    const values = [
      0.1 + 0.2,
      1 / 3,
      -2.5e-300,
      1e21,
      5e-324,
      Number.MAX_VALUE,
      -0,
      123456789012345680000
    ];
    const csv = toCsv(
      ['x'],
      values.map(v => [v])
    );
    const back = readCsv(csv)
      .slice(1)
      .map(r => Number(r[0]));
    expect(back).toEqual(values.map(v => (Object.is(v, -0) ? 0 : v)));
    expect(csvField(0.1 + 0.2)).toBe('0.30000000000000004');
    expect(csvField(NaN)).toBe('');
    expect(csvField(null)).toBe('');
    expect(csvField(undefined)).toBe('');
    expect(csvField(Infinity)).toBe('Inf');
    expect(csvField(-Infinity)).toBe('-Inf');
    expect(csvField(true)).toBe('TRUE');
  });

  it('guards text that a spreadsheet would run as a formula, not numbers', () => {
    expect(csvField('=HYPERLINK("http://x")')).toBe(
      '"\'=HYPERLINK(""http://x"")"'
    );
    expect(csvField('+1')).toBe("'+1");
    expect(csvField('-foo')).toBe("'-foo");
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField('\tx')).toBe("'\tx");
    expect(csvField(-3)).toBe('-3');
    expect(csvField('CD3E')).toBe('CD3E');
    expect(csvField('a=b')).toBe('a=b');
    expect(csvField('-foo', { guardFormulas: false })).toBe('-foo');
  });

  it('handles Unicode and empty strings', () => {
    const csv = toCsv(['g'], [['\u{1F9EC}é'], [''], ['\u2028']]);
    expect(readCsv(csv)).toEqual([['g'], ['\u{1F9EC}é'], [''], ['\u2028']]);
  });

  it('rejects rows of the wrong width', () => {
    expect(() => toCsv(['a', 'b'], [[1]])).toThrow(
      /1 fields under a header of 2/
    );
  });
});
