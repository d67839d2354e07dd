import { decode as decodePng, encode as encodePng } from 'fast-png';
import * as UTIF from 'utif';

import type { Plotly } from '../../plots/plotly';
import { parseSpec, serializeSpec } from '../../plots/spec';
import {
  csvFile,
  dataUrlBytes,
  downloadBlob,
  exportFigure,
  exportFileName,
  rasterSize
} from '../exportFigure';
import { readJpegComment, readJpegDensity } from '../jpeg';
import { readPngText } from '../png';
import { JPEG_JFIF, NASTY_STRINGS, specWith } from './fixtures';

jest.mock('jspdf', () =>
  jest.requireActual(
    require('path').resolve('node_modules/jspdf/dist/jspdf.umd.min.js')
  )
);
jest.mock('svg2pdf.js', () =>
  jest.requireActual(
    require('path').resolve('node_modules/svg2pdf.js/dist/svg2pdf.umd.min.js')
  )
);
(SVGElement.prototype as any).getBBox = () => ({
  x: 0,
  y: 0,
  width: 0,
  height: 0
});
HTMLCanvasElement.prototype.getContext = (() => null) as any;

const SPEC = specWith(['CD3E', ...NASTY_STRINGS]);
const SIZE = { width: 40, height: 30, dpi: 300 };
const PIXELS = rasterSize(SIZE); // 125 × 94

function rgba(width: number, height: number): Uint8Array {
  return Uint8Array.from({ length: width * height * 4 }, (_, i) =>
    i % 4 === 3 ? 255 : (i * 13) & 0xff
  );
}

/** A stand-in for Plotly.toImage, recording what it was asked. */
function fakePlotly() {
  const calls: any[] = [];
  const plotly = {
    toImage: async (_: unknown, opts: any) => {
      calls.push(opts);
      if (opts.format === 'png') {
        const w = Math.round(opts.width * opts.scale);
        const h = Math.round(opts.height * opts.scale);
        const png = encodePng({ width: w, height: h, data: rgba(w, h) });
        return 'data:image/png;base64,' + Buffer.from(png).toString('base64');
      }
      if (opts.format === 'jpeg') {
        return 'data:image/jpeg;base64,' + JPEG_JFIF;
      }
      const svg =
        `<svg xmlns="http://www.w3.org/2000/svg" width="${opts.width}" height="${opts.height}" viewBox="0 0 ${opts.width} ${opts.height}">` +
        '<text x="1" y="10">CD3E</text></svg>';
      return 'data:image/svg+xml,' + encodeURIComponent(svg);
    }
  };
  return { plotly: plotly as unknown as Plotly, calls };
}

async function bytes(blob: Blob): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(new Uint8Array(reader.result as ArrayBuffer));
    reader.onerror = () => reject(reader.error);
    reader.readAsArrayBuffer(blob);
  });
}

describe('exportFigure', () => {
  it('draws PNG at dpi/96 and writes resolution and spec', async () => {
    const { plotly, calls } = fakePlotly();
    const file = await exportFigure(
      { data: [], layout: {} },
      'png',
      SIZE,
      SPEC,
      {
        plotly
      }
    );
    expect(calls[0]).toEqual({
      format: 'png',
      width: 40,
      height: 30,
      scale: 300 / 96
    });
    expect(file.fileName).toBe('exprscope-heatmap-adata.png');
    expect(file.blob.type).toBe('image/png');
    const png = await bytes(file.blob);
    const decoded = decodePng(png, { checkCrc: true });
    expect([decoded.width, decoded.height]).toEqual([125, 94]);
    expect(decoded.resolution).toEqual({ x: 11811, y: 11811, unit: 1 });
    expect(parseSpec(readPngText(png).exprscope)).toEqual(SPEC);
    expect(readPngText(png).Software).toBe('exprscope 0.1.0');
  });

  it("writes the plot's notes (genes the matrix lacks) beside the spec in a PNG", async () => {
    const { plotly } = fakePlotly();
    const note = '1 requested gene is not in X: NOT_A_GENE.';
    const file = await exportFigure(
      { data: [], layout: {} },
      'png',
      SIZE,
      SPEC,
      {
        plotly,
        notes: [note, 'another note']
      }
    );
    const text = readPngText(await bytes(file.blob));
    expect(text.Comment).toBe(`${note}\nanother note`);
    expect(parseSpec(text.exprscope)).toEqual(SPEC);
    // No notes, no Comment
    const plain = await exportFigure(
      { data: [], layout: {} },
      'png',
      SIZE,
      SPEC,
      {
        plotly
      }
    );
    expect(readPngText(await bytes(plain.blob)).Comment).toBeUndefined();
  });

  it('writes JPEG density and comment', async () => {
    const { plotly } = fakePlotly();
    const file = await exportFigure(document.body, 'jpeg', SIZE, SPEC, {
      plotly
    });
    expect(file.fileName).toBe('exprscope-heatmap-adata.jpg');
    const jpeg = await bytes(file.blob);
    expect(readJpegDensity(jpeg)).toEqual({ units: 1, x: 300, y: 300 });
    expect(parseSpec(readJpegComment(jpeg))).toEqual(SPEC);
  });

  it('re-encodes the PNG pixels as TIFF', async () => {
    const { plotly } = fakePlotly();
    // jsdom has neither: decode with fast-png where a browser would use a canvas
    (globalThis as any).createImageBitmap = async (blob: Blob) => {
      const png = decodePng(await bytes(blob));
      return { width: png.width, height: png.height, png, close: () => 0 };
    };
    (globalThis as any).OffscreenCanvas = class {
      getContext() {
        let image: any = null;
        return {
          drawImage: (bitmap: any) => (image = bitmap),
          getImageData: () => ({ data: image.png.data })
        };
      }
    };
    try {
      const file = await exportFigure(document.body, 'tiff', SIZE, SPEC, {
        plotly
      });
      expect(file.blob.type).toBe('image/tiff');
      expect(file.fileName).toBe('exprscope-heatmap-adata.tif');
      const tiff = await bytes(file.blob);
      const [ifd] = UTIF.decode(tiff);
      UTIF.decodeImage(tiff, ifd);
      expect([ifd.width, ifd.height]).toEqual([PIXELS.width, PIXELS.height]);
      expect(ifd.t282).toEqual([300]);
      expect(ifd.t296).toEqual([2]);
      expect(parseSpec(ifd.t270[0])).toEqual(SPEC);
      expect(Array.from(UTIF.toRGBA8(ifd))).toEqual(
        Array.from(rgba(PIXELS.width, PIXELS.height))
      );
    } finally {
      delete (globalThis as any).createImageBitmap;
      delete (globalThis as any).OffscreenCanvas;
    }
  });

  it('writes SVG with the spec and a size in inches', async () => {
    const { plotly, calls } = fakePlotly();
    const file = await exportFigure(document.body, 'svg', SIZE, SPEC, {
      plotly
    });
    expect(calls[0].scale).toBe(1);
    const text = new TextDecoder().decode(await bytes(file.blob));
    const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
    expect(doc.documentElement.getAttribute('width')).toBe('0.4167in');
    expect(
      parseSpec(doc.getElementById('exprscope-spec')!.textContent)
    ).toEqual(SPEC);
  });

  it('converts the SVG to PDF', async () => {
    const { plotly } = fakePlotly();
    const file = await exportFigure(document.body, 'pdf', SIZE, SPEC, {
      plotly
    });
    expect(file.blob.type).toBe('application/pdf');
    const text = Buffer.from(await bytes(file.blob)).toString('latin1');
    expect(text).toMatch(/\/MediaBox \[0 0 30\.?0* 22\.5\d*\]/);
    expect(text).toContain('/Creator (exprscope 0.1.0)');
    expect(text).toContain('/Subject ({"exprscope_spec":1,');
  });

  it('refuses sizes it cannot draw', async () => {
    const { plotly } = fakePlotly();
    await expect(
      exportFigure(
        document.body,
        'png',
        { width: 4000, height: 3000, dpi: 1200 },
        SPEC,
        { plotly }
      )
    ).rejects.toThrow(/50000 × 37500 pixels is too large/);
    await expect(
      exportFigure(document.body, 'svg', { ...SIZE, dpi: 0 }, SPEC, { plotly })
    ).rejects.toThrow(/Invalid resolution/);
  });
});

describe('file helpers', () => {
  it('names files safely', () => {
    expect(
      exportFileName(
        {
          ...parseSpec(
            serializeSpec({
              ...SPEC,
              kind: 'dual_expression',
              gene_x: 'a/b',
              gene_y: '../..',
              object: 'x y'
            } as any)
          )
        },
        'pdf'
      )
    ).toBe('exprscope-a_b-vs-.._..-x_y.pdf');
  });

  it('decodes data URLs', () => {
    expect(Array.from(dataUrlBytes('data:x;base64,AAEC'))).toEqual([0, 1, 2]);
    expect(
      new TextDecoder().decode(dataUrlBytes('data:x,%3Csvg%3E%C3%A9'))
    ).toBe('<svg>é');
    expect(() => dataUrlBytes('nope')).toThrow(/no image data/);
  });

  it('makes a CSV file and downloads a blob', () => {
    const file = csvFile('a,b\r\n', SPEC);
    expect(file.fileName).toBe('exprscope-heatmap-adata.csv');
    expect(file.blob.type).toBe('text/csv;charset=utf-8');
    const created: Blob[] = [];
    (URL as any).createObjectURL = (blob: Blob) => {
      created.push(blob);
      return 'blob:x';
    };
    (URL as any).revokeObjectURL = jest.fn();
    const click = jest
      .spyOn(HTMLAnchorElement.prototype, 'click')
      .mockImplementation(function (this: HTMLAnchorElement) {
        expect(this.download).toBe('plot.csv');
        expect(this.getAttribute('href')).toBe('blob:x');
      });
    jest.useFakeTimers();
    downloadBlob(file.blob, 'plot.csv');
    expect(click).toHaveBeenCalledTimes(1);
    expect(created).toEqual([file.blob]);
    expect(document.querySelector('a')).toBeNull();
    jest.runAllTimers();
    expect(URL.revokeObjectURL).toHaveBeenCalledWith('blob:x');
    jest.useRealTimers();
    click.mockRestore();
  });
});
