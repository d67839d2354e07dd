/**
 * Test inputs. The two 16 × 16 JPEGs are CPython's test images (Lib/test/imghdrdata/
 * python.jpg with a JFIF APP0, python-raw.jpg without), as written by a real encoder.
 */
import { IHeatmapSpec } from '../../plots/spec';

export const JPEG_JFIF =
  '/9j/4AAQSkZJRgABAQEAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD/2wBDAQMDAwQDBAgEBAgQCwkLEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBD/wAARCAAQABADASIAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAABwQF/8QAJBAAAQQBBAICAwAAAAAAAAAAAQIDBAYFBwgSExEiABQJMTL/xAAVAQEBAAAAAAAAAAAAAAAAAAAABv/EACMRAAECBQMFAAAAAAAAAAAAAAECEQMEBQYhABIxFRZhgeH/2gAMAwEAAhEDEQA/ABSm0mobc8HmExLUlRzzEWPkJWW+ulrsaUVAseUgslSlH9LKuPryIKuWPZdskzXmm3fX5m2nF4GlVxx/HOpx4ks51+MiU/Iaad7UcUo4tILoS4kqcWkezS0hO/HvuRp0rO6hWnWO1UisZVuFi4GFeyEpmGepa5S5SWVPuciFKRFLgSrwetnyPIB+Vb4N9mKhQMzo5po9XLdDs9d6ZVix2VEhiL9kuNPxw2gEKcDQ/rs8AuA8VAe0vdl7VOYn+27flGAUgmITjbhSmCg3BYlyeWDkMolvw4KOp1KM6iCNvngZHwetf//Z';

export const JPEG_RAW =
  '/9j/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD/2wBDAQMDAwQDBAgEBAgQCwkLEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBD/wAARCAAQABADASIAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAABwQF/8QAJBAAAQQBBAICAwAAAAAAAAAAAQIDBAYFBwgSExEiABQJMTL/xAAVAQEBAAAAAAAAAAAAAAAAAAAABv/EACMRAAECBQMFAAAAAAAAAAAAAAECEQMEBQYhABIxFRZhgeH/2gAMAwEAAhEDEQA/ABSm0mobc8HmExLUlRzzEWPkJWW+ulrsaUVAseUgslSlH9LKuPryIKuWPZdskzXmm3fX5m2nF4GlVxx/HOpx4ks51+MiU/Iaad7UcUo4tILoS4kqcWkezS0hO/HvuRp0rO6hWnWO1UisZVuFi4GFeyEpmGepa5S5SWVPuciFKRFLgSrwetnyPIB+Vb4N9mKhQMzo5po9XLdDs9d6ZVix2VEhiL9kuNPxw2gEKcDQ/rs8AuA8VAe0vdl7VOYn+27flGAUgmITjbhSmCg3BYlyeWDkMolvw4KOp1KM6iCNvngZHwetf//Z';

export function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, 'base64'));
}

/** Strings that break naive quoting, escaping or encodings. */
export const NASTY_STRINGS = [
  'a"b\nc',
  "it's",
  'back\\slash\\',
  '\\"',
  '"""',
  "'''",
  '\r\n\t\v\f\b\0',
  '\x1b[31mred',
  '\x7f\x80\x9f\xa0\xad',
  'line\u2028sep\u2029para',
  '\u202eevil\u202c',
  '\u{1F9EC} DNA \u{1D54F}',
  '\ud800 lone \udfff',
  '\ufeffbom\ufffe\uffff',
  'é ü ß ø 中文 Ωμέγα',
  'e\u0301',
  '{0} %s ${x} `cmd`',
  ']]></metadata><script>alert(1)</script>',
  '=1+2',
  '',
  ' ',
  'x'.repeat(2000)
];

export function specWith(genes: string[]): IHeatmapSpec {
  return {
    exprscope_spec: 1,
    kind: 'heatmap',
    version: '0.1.0',
    object: 'adata',
    matrix: 'layers/integrated',
    dataset_column: 'stim',
    cluster_column: 'leiden',
    sample_column: null,
    clusters: ['0', '3', '7'],
    gene_source: 'selected',
    genes,
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
  };
}
