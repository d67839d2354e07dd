/**
 * CSV (RFC 4180): comma-separated, CRLF line ends, fields with a comma, quote or line
 * break quoted with quotes doubled. Numbers are written in full precision (the shortest
 * text that reads back as the same double); NaN, null and undefined are empty fields.
 */

export type CsvCell = string | number | boolean | null | undefined;

export interface ICsvOptions {
  /**
   * Prefix text that a spreadsheet would run as a formula (starting with = + - @, tab or
   * CR) with an apostrophe. Gene, cluster and sample names come from the data, and a cell
   * such as `=HYPERLINK(...)` opened in Excel or LibreOffice would execute (CSV
   * injection, OWASP). Only strings are guarded: numbers, including negative ones, are
   * written as they are. Default true.
   */
  guardFormulas?: boolean;
}

const NEEDS_QUOTES = /[",\r\n]/;
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvField(cell: CsvCell, options: ICsvOptions = {}): string {
  if (cell === null || cell === undefined) {
    return '';
  }
  if (typeof cell === 'number') {
    if (Number.isNaN(cell)) {
      return '';
    }
    if (!Number.isFinite(cell)) {
      return cell > 0 ? 'Inf' : '-Inf'; // read as infinity by pandas and R
    }
    return String(cell);
  }
  let text = typeof cell === 'boolean' ? (cell ? 'TRUE' : 'FALSE') : cell;
  if ((options.guardFormulas ?? true) && FORMULA_START.test(text)) {
    text = "'" + text;
  }
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A CSV document: the header, then one line per row, each line ended by CRLF. */
export function toCsv(
  header: readonly string[],
  rows: Iterable<readonly CsvCell[]>,
  options: ICsvOptions = {}
): string {
  const lines = [header.map(h => csvField(h, options)).join(',')];
  for (const row of rows) {
    if (row.length !== header.length) {
      throw new RangeError(
        `CSV row of ${row.length} fields under a header of ${header.length}`
      );
    }
    lines.push(row.map(c => csvField(c, options)).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}
