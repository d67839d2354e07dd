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
  await doc.svg(svg, { x: 0, y: 0, width, height });
  return doc.output('arraybuffer');
}
