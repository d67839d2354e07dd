/**
 * SVG → vector PDF with jsPDF and svg2pdf.js (text stays text, paths stay paths), one page
 * the size of the figure: CSS px × 72/96 points, so the PDF prints at the size of the
 * raster exports (px × dpi/96 pixels at dpi). Needs a DOM (svg2pdf reads the element).
 */
import { jsPDF } from 'jspdf';
import 'svg2pdf.js';

/** PDF points per CSS pixel (72 pt and 96 px per inch). */
export const PT_PER_PX = 72 / 96;

export interface IPdfOptions {
  /** Figure size in CSS px. */
  width: number;
  height: number;
  title: string;
  /** Spec JSON, stored as the document's Subject (ASCII: see `serializeSpec`). */
  subject: string;
  keywords?: string;
  /** Creator, e.g. "exprscope 0.1.0". */
  creator: string;
}

export async function svgToPdf(
  svg: Element,
  options: IPdfOptions
): Promise<ArrayBuffer> {
  const width = options.width * PT_PER_PX;
  const height = options.height * PT_PER_PX;
  const doc = new jsPDF({
    unit: 'pt',
    format: [width, height],
    // jsPDF swaps the format's sides to match the orientation: give the true one
    orientation: width > height ? 'landscape' : 'portrait',
    compress: true
  });
  doc.setDocumentProperties({
    title: options.title,
    subject: options.subject,
    keywords: options.keywords,
    creator: options.creator
  });
  cssTransformsAsAttributes(svg);
  await doc.svg(svg, { x: 0, y: 0, width, height });
  return doc.output('arraybuffer');
}

/**
 * Move CSS `transform`s of `svg`'s elements into SVG `transform` attributes, the only ones
 * svg2pdf reads. Plotly flips pictures (the dual view's raster, an `image` trace) with a
 * CSS transform; left there, the PDF would show them upside down.
 */
export function cssTransformsAsAttributes(svg: Element): void {
  svg.querySelectorAll<SVGElement>('[style]').forEach(element => {
    const css = element.style.getPropertyValue('transform');
    if (!css || css === 'none') {
      return;
    }
    // SVG's syntax is CSS's without units: translate(200px, 10px) → translate(200, 10)
    const own = css.replace(/(-?[\d.]+(?:e[-+]?\d+)?)px/gi, '$1');
    const existing = element.getAttribute('transform');
    element.setAttribute('transform', existing ? `${existing} ${own}` : own);
    element.style.removeProperty('transform');
  });
}
