/**
 * The one export path of every plot: a Plotly figure → a file (PNG, JPEG, TIFF, PDF, SVG)
 * of a chosen size and resolution that carries the plot's spec. Plotly draws (PNG, JPEG
 * and SVG via `Plotly.toImage`); the pure writers of this folder add resolution and
 * metadata; TIFF is re-encoded from the PNG's pixels and PDF converted from the SVG.
 * The browser-only steps (canvas, DOMParser, object URLs) are all in this file.
 */
import { IFigure, loadPlotly, Plotly } from '../plots/plotly';
import { IPlotSpec, serializeSpec } from '../plots/spec';
import { writeJpegMetadata } from './jpeg';
import { writePngMetadata } from './png';
import { CSS_PX_PER_INCH, writeSvgMetadata } from './svg';
import { encodeTiff } from './tiff';

export type ExportFormat = 'png' | 'jpeg' | 'tiff' | 'pdf' | 'svg';

export const EXPORT_FORMATS: readonly ExportFormat[] = [
  'png',
  'jpeg',
  'tiff',
  'pdf',
  'svg'
];

export const DEFAULT_DPI = 300;

/** Keyword of the PNG text chunk holding the spec. */
export const PNG_SPEC_KEYWORD = 'exprscope';

const MIME: Record<ExportFormat, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  tiff: 'image/tiff',
  pdf: 'application/pdf',
  svg: 'image/svg+xml'
};

const EXTENSION: Record<ExportFormat, string> = {
  png: 'png',
  jpeg: 'jpg',
  tiff: 'tif',
  pdf: 'pdf',
  svg: 'svg'
};

/**
 * Above this many pixels a raster export is refused with a clear message instead of a
 * blank or failed canvas (browsers cap canvas area; 100 M RGBA pixels are 400 MB).
 */
export const MAX_RASTER_PIXELS = 100_000_000;

export interface IExportSize {
  /** Figure size in CSS px (the size laid out; 96 px = 1 inch on paper). */
  width: number;
  height: number;
  /** Resolution of raster formats, written into the file. */
  dpi: number;
}

export interface IExportedFile {
  blob: Blob;
  fileName: string;
}

/** Pixel size of a raster export: CSS px × dpi / 96. */
export function rasterSize(size: IExportSize): {
  width: number;
  height: number;
} {
  const scale = size.dpi / CSS_PX_PER_INCH;
  return {
    width: Math.round(size.width * scale),
    height: Math.round(size.height * scale)
  };
}

/** "exprscope-heatmap-adata" / "exprscope-CD3E-vs-MS4A1-adata", safe as a file name. */
export function exportBaseName(spec: IPlotSpec): string {
  const what =
    spec.kind === 'heatmap' ? 'heatmap' : `${spec.gene_x}-vs-${spec.gene_y}`;
  const name = `exprscope-${what}-${spec.object}`
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .slice(0, 120);
  return name;
}

export function exportFileName(spec: IPlotSpec, format: ExportFormat): string {
  return `${exportBaseName(spec)}.${EXTENSION[format]}`;
}

function creator(spec: IPlotSpec): string {
  return spec.version ? `exprscope ${spec.version}` : 'exprscope';
}

function title(spec: IPlotSpec): string {
  const what =
    spec.kind === 'heatmap' ? 'heatmap' : `${spec.gene_x} vs ${spec.gene_y}`;
  return `exprscope ${what} of ${spec.object} (${spec.matrix})`;
}

/** The bytes of a data: URL (base64 or percent-encoded). */
export function dataUrlBytes(url: string): Uint8Array {
  const comma = url.indexOf(',');
  if (!url.startsWith('data:') || comma < 0) {
    throw new Error('Plotly returned no image data.');
  }
  const body = url.slice(comma + 1);
  if (/;base64$/i.test(url.slice(0, comma))) {
    const binary = atob(body);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes;
  }
  return new TextEncoder().encode(decodeURIComponent(body));
}

function checkSize(size: IExportSize, raster: boolean): void {
  const { width, height, dpi } = size;
  if (!(width >= 1 && height >= 1 && Number.isFinite(width * height))) {
    throw new RangeError(`Invalid figure size ${width} × ${height} px.`);
  }
  if (!(dpi >= 1 && dpi <= 65535)) {
    throw new RangeError(`Invalid resolution ${dpi} DPI.`);
  }
  const pixels = rasterSize(size);
  if (raster && pixels.width * pixels.height > MAX_RASTER_PIXELS) {
    throw new RangeError(
      `${pixels.width} × ${pixels.height} pixels is too large to draw: lower the DPI or the size.`
    );
  }
}

/** RGBA pixels of an encoded image (browser only: ImageBitmap and a canvas). */
async function decodePixels(
  bytes: Uint8Array,
  type: string
): Promise<{ data: Uint8ClampedArray; width: number; height: number }> {
  const bitmap = await createImageBitmap(new Blob([bytes], { type }), {
    premultiplyAlpha: 'none',
    colorSpaceConversion: 'none'
  });
  const { width, height } = bitmap;
  const canvas: OffscreenCanvas | HTMLCanvasElement =
    typeof OffscreenCanvas !== 'undefined'
      ? new OffscreenCanvas(width, height)
      : Object.assign(document.createElement('canvas'), { width, height });
  const context = canvas.getContext('2d') as
    CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
  if (!context) {
    throw new Error('This browser cannot draw the image for TIFF export.');
  }
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  return {
    data: context.getImageData(0, 0, width, height).data,
    width,
    height
  };
}

/** Image pixels per CSS pixel of a pixel image in a vector export (see below). */
const PIXEL_IMAGE_SCALE = 3;

/**
 * Plotly paints an evenly spaced heatmap as one pixel per cell, shown enlarged with CSS
 * `image-rendering: pixelated`. Browsers honour that (the raster exports are drawn by
 * the browser); SVG and PDF viewers may smooth the picture instead, blurring the cells.
 * In the vector formats each such image is enlarged here, every cell a block of whole
 * pixels, so that smoothing has nothing to blur.
 */
async function enlargePixelImages(svg: string): Promise<string> {
  const doc = new DOMParser().parseFromString(svg, 'image/svg+xml');
  const images = [...doc.querySelectorAll('image')].filter(image =>
    /pixelated/.test(image.getAttribute('style') ?? '')
  );
  for (const image of images) {
    const attribute = image.hasAttribute('xlink:href') ? 'xlink:href' : 'href';
    const href = image.getAttribute(attribute) ?? '';
    if (!href.startsWith('data:image/png')) {
      continue;
    }
    const bitmap = await createImageBitmap(
      new Blob([dataUrlBytes(href)], { type: 'image/png' })
    );
    const scale = (drawn: string | null, pixels: number) =>
      Math.max(1, Math.ceil((PIXEL_IMAGE_SCALE * Number(drawn)) / pixels) || 1);
    const canvas = document.createElement('canvas');
    canvas.width =
      bitmap.width * scale(image.getAttribute('width'), bitmap.width);
    canvas.height =
      bitmap.height * scale(image.getAttribute('height'), bitmap.height);
    const context = canvas.getContext('2d');
    if (!context) {
      bitmap.close();
      continue; // left as it is: still right in browsers
    }
    context.imageSmoothingEnabled = false;
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    image.setAttribute(attribute, canvas.toDataURL('image/png'));
  }
  return images.length > 0 ? new XMLSerializer().serializeToString(doc) : svg;
}

/**
 * Export a plot: `source` is the Plotly graph div (what is on screen) or a figure.
 * Raster formats are drawn at `dpi / 96` times the CSS size.
 */
export async function exportFigure(
  source: HTMLElement | IFigure,
  format: ExportFormat,
  size: IExportSize,
  spec: IPlotSpec,
  options: {
    plotly?: Plotly;
    /**
     * The plot's notes (e.g. requested genes the matrix lacks), written beside the spec as
     * the PNG's "Comment" text (the figure's own caption carries them in every format).
     */
    notes?: readonly string[];
  } = {}
): Promise<IExportedFile> {
  const raster = format === 'png' || format === 'jpeg' || format === 'tiff';
  checkSize(size, raster);
  const Plotly = options.plotly ?? (await loadPlotly());
  const json = serializeSpec(spec);
  const asciiJson = serializeSpec(spec, { ascii: true });
  const fileName = exportFileName(spec, format);
  const notes =
    options.notes && options.notes.length > 0 ? options.notes.join('\n') : null;
  const make = (bytes: Uint8Array | ArrayBuffer | string): IExportedFile => ({
    blob: new Blob([bytes], { type: MIME[format] }),
    fileName
  });
  const image = (fmt: 'png' | 'jpeg' | 'svg'): Promise<string> =>
    Plotly.toImage(source as any, {
      format: fmt,
      width: size.width,
      height: size.height,
      // SVG is drawn at the CSS size; its physical size is set in inches below
      scale: fmt === 'svg' ? 1 : size.dpi / CSS_PX_PER_INCH
    });

  if (format === 'png') {
    const png = dataUrlBytes(await image('png'));
    return make(
      writePngMetadata(png, {
        dpi: size.dpi,
        text: {
          [PNG_SPEC_KEYWORD]: json,
          Software: creator(spec),
          ...(notes ? { Comment: notes } : {})
        }
      })
    );
  }
  if (format === 'jpeg') {
    const jpeg = dataUrlBytes(await image('jpeg'));
    return make(writeJpegMetadata(jpeg, { dpi: size.dpi, comment: json }));
  }
  if (format === 'tiff') {
    const png = dataUrlBytes(await image('png'));
    const { data, width, height } = await decodePixels(png, 'image/png');
    return make(
      encodeTiff(data, width, height, {
        dpi: size.dpi,
        description: asciiJson,
        software: creator(spec)
      })
    );
  }
  const svgText = await enlargePixelImages(
    new TextDecoder().decode(dataUrlBytes(await image('svg')))
  );
  const svg = writeSvgMetadata(svgText, {
    width: size.width,
    height: size.height,
    json
  });
  if (format === 'svg') {
    return make(svg);
  }
  const element = new DOMParser().parseFromString(
    svg,
    'image/svg+xml'
  ).documentElement;
  if (element.nodeName !== 'svg') {
    throw new Error('Plotly returned an SVG that cannot be read for the PDF.');
  }
  // Lazily: jsPDF and svg2pdf are only needed by this format
  const { svgToPdf } = await import(
    /* webpackChunkName: "exprscope-pdf" */ './pdf'
  );
  return make(
    await svgToPdf(element, {
      width: size.width,
      height: size.height,
      title: title(spec),
      subject: asciiJson,
      keywords: `exprscope, ${spec.kind}, ${spec.object}, ${spec.matrix}`,
      creator: creator(spec)
    })
  );
}

/** The plotted numbers as a CSV file named like the figure's exports. */
export function csvFile(csv: string, spec: IPlotSpec): IExportedFile {
  return {
    blob: new Blob([csv], { type: 'text/csv;charset=utf-8' }),
    fileName: `${exportBaseName(spec)}.csv`
  };
}

/** Save a blob through the browser's download (no server round trip). */
export function downloadBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.rel = 'noopener';
  link.style.display = 'none';
  document.body.appendChild(link);
  try {
    link.click();
  } finally {
    link.remove();
    // Revoked after the click has been handled: some browsers read the URL asynchronously
    setTimeout(() => URL.revokeObjectURL(url), 30_000);
  }
}
