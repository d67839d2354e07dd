/**
 * SVG metadata: the spec in a <metadata> element and a physical size on the root element.
 * Works on the SVG text (no DOM): only the root start tag is rewritten.
 */
import { asciiJson } from '../plots/spec';

/** CSS pixels per inch: a figure of W px is W/96 in wide, as the raster exports are. */
export const CSS_PX_PER_INCH = 96;

/** Id of the <metadata> element holding the spec. */
export const SVG_METADATA_ID = 'exprscope-spec';

export interface ISvgMetadata {
  /** Figure size in CSS px; becomes width/height in inches (px / 96). */
  width: number;
  height: number;
  /** Spec JSON text, stored in <metadata id="exprscope-spec">. */
  json?: string;
}

/** Escape text for XML character data or a double-quoted attribute. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

const ATTRIBUTE = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

function inches(px: number): string {
  return `${Number((px / CSS_PX_PER_INCH).toFixed(4))}in`;
}

/**
 * The SVG with `width`/`height` in inches, a `viewBox` (kept, or the old pixel size) so
 * it still scales, and the spec in a <metadata> element first inside the root.
 */
export function writeSvgMetadata(svg: string, metadata: ISvgMetadata): string {
  const start = svg.search(/<svg(?=[\s/>])/);
  if (start < 0) {
    throw new Error('Not an SVG document: no <svg> element.');
  }
  // End of the start tag: the first '>' outside quoted attribute values
  let end = start;
  let quote: string | null = null;
  for (; end < svg.length; end++) {
    const c = svg[end];
    if (quote) {
      quote = c === quote ? null : quote;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '>') {
      break;
    }
  }
  if (end >= svg.length) {
    throw new Error('Not an SVG document: the <svg> tag is not closed.');
  }
  const selfClosing = svg[end - 1] === '/';
  const tag = svg.slice(start + 4, selfClosing ? end - 1 : end);
  const attributes = new Map<string, string>();
  for (const m of tag.matchAll(ATTRIBUTE)) {
    attributes.set(m[1], m[2] ?? m[3]);
  }
  if (!attributes.has('viewBox')) {
    const w = parseFloat(attributes.get('width') ?? '');
    const h = parseFloat(attributes.get('height') ?? '');
    attributes.set(
      'viewBox',
      `0 0 ${Number.isFinite(w) ? w : metadata.width} ${Number.isFinite(h) ? h : metadata.height}`
    );
  }
  attributes.set('width', inches(metadata.width));
  attributes.set('height', inches(metadata.height));
  // Values were read raw (entities still escaped); only '"' needs escaping again
  const rebuilt =
    '<svg' +
    [...attributes]
      .map(([k, v]) => ` ${k}="${v.replace(/"/g, '&quot;')}"`)
      .join('') +
    '>';
  const meta =
    metadata.json === undefined
      ? ''
      : `<metadata id="${SVG_METADATA_ID}">${escapeXml(asciiJson(metadata.json))}</metadata>`;
  const rest = svg.slice(end + 1);
  return (
    svg.slice(0, start) +
    rebuilt +
    meta +
    (selfClosing ? '</svg>' : '') +
    removeOldMetadata(rest)
  );
}

/** Drop a <metadata id="exprscope-spec"> written earlier (writing twice replaces it). */
function removeOldMetadata(body: string): string {
  return body.replace(
    new RegExp(`<metadata id="${SVG_METADATA_ID}">[^<]*</metadata>`),
    ''
  );
}
