import { decode as decodePng, encode as encodePng } from 'fast-png';
import * as UTIF from 'utif';
import { inflateSync, crc32 as zlibCrc32 } from 'zlib';

import { parseSpec, serializeSpec } from '../../plots/spec';
import { readJpegComment, readJpegDensity, writeJpegMetadata } from '../jpeg';
import {
  adler32,
  crc32,
  encodePalettePng,
  readPngChunks,
  readPngDpi,
  readPngText,
  toBase64,
  writePngMetadata
} from '../png';
import { SVG_METADATA_ID, writeSvgMetadata } from '../svg';
import { encodeTiff, packBits } from '../tiff';
import {
  fromBase64,
  JPEG_JFIF,
  JPEG_RAW,
  NASTY_STRINGS,
  specWith
} from './fixtures';

// UTIF.js decodes JPEG with pdf.js' decoder, a second real decoder for the JPEG tests
// eslint-disable-next-line @typescript-eslint/no-var-requires
const JpegDecoder = require('utif').JpegDecoder;

const SPEC = specWith(['CD3E', ...NASTY_STRINGS]);
const JSON_TEXT = serializeSpec(SPEC);

function rgbaImage(width: number, height: number, alpha = true): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const x = i % width;
    // Runs (for PackBits) and noise (literal runs) mixed
    data[4 * i] = x < width / 2 ? 255 : (i * 37) & 0xff;
    data[4 * i + 1] = (i * 11) & 0xff;
    data[4 * i + 2] = x % 7 === 0 ? 0 : 200;
    data[4 * i + 3] = alpha ? (i * 5) & 0xff : 255;
  }
  return data;
}

function decodeJpeg(bytes: Uint8Array): Uint8Array {
  const decoder = new JpegDecoder();
  decoder.parse(bytes);
  return decoder.getData(decoder.width, decoder.height, true);
}

describe('PNG metadata', () => {
  const source = encodePng({
    width: 5,
    height: 4,
    data: rgbaImage(5, 4),
    channels: 4,
    depth: 8
  });

  it('writes pHYs, iTXt and Software before IDAT with valid CRCs', () => {
    const png = writePngMetadata(source, {
      dpi: 300,
      text: { exprscope: JSON_TEXT, Software: 'exprscope 0.1.0' }
    });
    const chunks = readPngChunks(png); // throws on a wrong CRC
    for (const chunk of chunks) {
      const typeAndData = Buffer.concat([
        Buffer.from(chunk.type, 'latin1'),
        chunk.data
      ]);
      expect(zlibCrc32(typeAndData)).toBe(chunk.crc);
      expect(crc32(typeAndData)).toBe(chunk.crc);
    }
    const types = chunks.map(c => c.type);
    expect(types[0]).toBe('IHDR');
    expect(types.indexOf('pHYs')).toBeLessThan(types.indexOf('IDAT'));
    expect(types.lastIndexOf('iTXt')).toBeLessThan(types.indexOf('IDAT'));
    expect(types[types.length - 1]).toBe('IEND');

    // pHYs by hand: ppm = round(dpi / 0.0254) on both axes, unit 1 (metre)
    const phys = Buffer.from(chunks.find(c => c.type === 'pHYs')!.data);
    expect(phys.length).toBe(9);
    expect(phys.readUInt32BE(0)).toBe(Math.round(300 / 0.0254));
    expect(phys.readUInt32BE(4)).toBe(11811);
    expect(phys[8]).toBe(1);

    // iTXt by hand: keyword NUL 0 0 NUL NUL text
    const itxt = chunks
      .filter(c => c.type === 'iTXt')
      .map(c => Buffer.from(c.data));
    const spec = itxt.find(d =>
      d.subarray(0, 10).equals(Buffer.from('exprscope\0'))
    )!;
    expect([...spec.subarray(10, 14)]).toEqual([0, 0, 0, 0]);
    expect(spec.subarray(14).toString('utf8')).toBe(JSON_TEXT);
    expect(parseSpec(spec.subarray(14).toString('utf8'))).toEqual(SPEC);

    // An independent decoder: same pixels, the resolution it reads
    const decoded = decodePng(png, { checkCrc: true });
    expect(decoded.width).toBe(5);
    expect(Array.from(decoded.data)).toEqual(Array.from(rgbaImage(5, 4)));
    expect(decoded.resolution).toEqual({ x: 11811, y: 11811, unit: 1 });

    expect(readPngText(png)).toEqual({
      exprscope: JSON_TEXT,
      Software: 'exprscope 0.1.0'
    });
    expect(readPngDpi(png)!.x).toBeCloseTo(300, 0);
  });

  it('replaces pHYs and same-keyword text when written again', () => {
    const once = writePngMetadata(source, {
      dpi: 72,
      text: { exprscope: 'old', Other: 'kept' }
    });
    const twice = writePngMetadata(once, {
      dpi: 600,
      text: { exprscope: JSON_TEXT }
    });
    const types = readPngChunks(twice).map(c => c.type);
    expect(types.filter(t => t === 'pHYs')).toHaveLength(1);
    expect(readPngText(twice)).toEqual({ exprscope: JSON_TEXT, Other: 'kept' });
    expect(decodePng(twice, { checkCrc: true }).resolution!.x).toBe(
      Math.round(600 / 0.0254)
    );
  });

  it('rejects bad input', () => {
    expect(() => writePngMetadata(new Uint8Array(20), { dpi: 300 })).toThrow(
      /Not a PNG/
    );
    const broken = Uint8Array.from(source);
    broken[20] ^= 1; // inside IHDR
    expect(() => readPngChunks(broken)).toThrow(/IHDR has a wrong CRC/);
    expect(() => writePngMetadata(source, { dpi: 0 })).toThrow(/Invalid DPI/);
    expect(() => writePngMetadata(source, { text: { ' bad': 'x' } })).toThrow(
      /keyword/
    );
  });
});

describe('palette PNG', () => {
  const palette = Array.from(
    { length: 256 },
    (_, i) => [i, 255 - i, (i * 7) & 0xff, i % 3 === 0 ? 0 : 255] as const
  );

  it('is read back by fast-png pixel for pixel, rows in order, alpha from tRNS', () => {
    const width = 3;
    const height = 2;
    const indices = Uint8Array.from([0, 1, 2, 255, 4, 5]);
    const decoded = decodePng(
      encodePalettePng(width, height, indices, palette)
    );
    expect([decoded.width, decoded.height, decoded.depth]).toEqual([3, 2, 8]);
    expect(Array.from(decoded.data)).toEqual(Array.from(indices));
    indices.forEach(index =>
      expect(decoded.palette![index]).toEqual([...palette[index]])
    );
  });

  it('stores image data over 64 KB in several deflate blocks, with zlib checksums', () => {
    const width = 400;
    const height = 300; // 120,300 bytes of rows: two stored blocks
    const indices = Uint8Array.from(
      { length: width * height },
      (_, i) => i % 251
    );
    const png = encodePalettePng(width, height, indices, palette);
    const decoded = decodePng(png);
    expect(Array.from(decoded.data)).toEqual(Array.from(indices));
    // Node's zlib inflates the IDAT (and checks its Adler-32)
    const idat = readPngChunks(png).find(chunk => chunk.type === 'IDAT')!;
    const raw = inflateSync(idat.data);
    expect(raw.length).toBe(height * (width + 1));
    expect(adler32(Uint8Array.from(raw))).toBe(
      new DataView(idat.data.buffer, idat.data.byteOffset).getUint32(
        idat.data.length - 4
      )
    );
    expect(() => encodePalettePng(2, 2, indices, palette)).toThrow(/pixels/);
  });

  it('writes base64 as Node does', () => {
    const bytes = Uint8Array.from(
      { length: 70_000 },
      (_, i) => (i * 31) & 0xff
    );
    expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
    expect(toBase64(bytes.subarray(5, 9))).toBe(
      Buffer.from(bytes.subarray(5, 9)).toString('base64')
    );
  });
});

describe('JPEG metadata', () => {
  it.each([
    ['with a JFIF segment', JPEG_JFIF],
    ['without one', JPEG_RAW]
  ])('sets the density and the comment %s', (_, base64) => {
    const source = fromBase64(base64);
    const jpeg = writeJpegMetadata(source, { dpi: 300, comment: JSON_TEXT });
    // JFIF APP0 right after SOI, units 1 (dpi), density 300 × 300
    expect([...jpeg.subarray(0, 4)]).toEqual([0xff, 0xd8, 0xff, 0xe0]);
    expect(Buffer.from(jpeg.subarray(6, 11)).toString('latin1')).toBe('JFIF\0');
    expect(jpeg[13]).toBe(1);
    expect((jpeg[14] << 8) | jpeg[15]).toBe(300);
    expect((jpeg[16] << 8) | jpeg[17]).toBe(300);
    expect(readJpegDensity(jpeg)).toEqual({ units: 1, x: 300, y: 300 });
    expect(readJpegComment(jpeg)).toBe(JSON_TEXT);
    expect(parseSpec(readJpegComment(jpeg))).toEqual(SPEC);
    // The image itself is untouched and still decodes to the same pixels
    expect(decodeJpeg(jpeg)).toEqual(decodeJpeg(source));
    // One JFIF segment only
    const jfif =
      Buffer.from(jpeg).toString('latin1').split('JFIF\0').length - 1;
    expect(jfif).toBe(1);
  });

  it('splits a comment longer than a segment and reads it back whole', () => {
    const long = '\u00e9'.repeat(70000); // 140 000 UTF-8 bytes: three COM segments
    const jpeg = writeJpegMetadata(fromBase64(JPEG_JFIF), { comment: long });
    expect(readJpegComment(jpeg)).toBe(long);
    expect(decodeJpeg(jpeg).length).toBe(16 * 16 * 3);
    // Written again: the old comments are replaced, not added to
    const again = writeJpegMetadata(jpeg, { comment: 'short', dpi: 96 });
    expect(readJpegComment(again)).toBe('short');
    expect(readJpegDensity(again)).toEqual({ units: 1, x: 96, y: 96 });
  });

  it('rejects bad input', () => {
    expect(() => writeJpegMetadata(new Uint8Array(10), { dpi: 300 })).toThrow(
      /Not a JPEG/
    );
    expect(() =>
      writeJpegMetadata(fromBase64(JPEG_JFIF), { dpi: 70000 })
    ).toThrow(/1..65535/);
    expect(() =>
      writeJpegMetadata(fromBase64(JPEG_JFIF).subarray(0, 30), { dpi: 300 })
    ).toThrow(/Corrupt JPEG/);
  });
});

describe('TIFF', () => {
  function decodeTiff(bytes: Uint8Array): UTIF.IFD {
    const buffer = bytes.buffer.slice(
      bytes.byteOffset,
      bytes.byteOffset + bytes.byteLength
    );
    const ifds = UTIF.decode(buffer);
    expect(ifds).toHaveLength(1);
    UTIF.decodeImage(buffer, ifds[0]);
    return ifds[0];
  }

  it.each([
    ['RGBA', true],
    ['RGB (opaque)', false]
  ])('writes %s pixels, resolution and the description', (_, alpha) => {
    const width = 300; // several strips, runs and literals
    const height = 250;
    const rgba = rgbaImage(width, height, alpha);
    const tiff = encodeTiff(rgba, width, height, {
      dpi: 300,
      description: JSON_TEXT,
      software: 'exprscope 0.1.0'
    });
    const ifd = decodeTiff(tiff);
    expect(ifd.t256).toEqual([width]);
    expect(ifd.t257).toEqual([height]);
    expect(ifd.t277).toEqual([alpha ? 4 : 3]);
    expect(ifd.t259).toEqual([32773]);
    expect(ifd.t282).toEqual([300]);
    expect(ifd.t283).toEqual([300]);
    expect(ifd.t296).toEqual([2]);
    expect(ifd.t305).toEqual(['exprscope 0.1.0']);
    expect(ifd.t273.length).toBeGreaterThan(1);
    // ASCII only, but the same JSON value
    expect(ifd.t270[0]).toMatch(/^[\x20-\x7e]*$/);
    expect(parseSpec(ifd.t270[0])).toEqual(SPEC);
    expect(Array.from(UTIF.toRGBA8(ifd))).toEqual(Array.from(rgba));
  });

  it('holds a spec far larger than UTIF.encodeImage could', () => {
    const genes = Array.from({ length: 5000 }, (_, i) => `GENE${i}-\u03b1`);
    const spec = specWith(genes);
    const rgba = rgbaImage(3, 2, false);
    const ifd = decodeTiff(
      encodeTiff(rgba, 3, 2, { dpi: 72.5, description: serializeSpec(spec) })
    );
    expect(ifd.t270[0].length).toBeGreaterThan(50000);
    expect(parseSpec(ifd.t270[0])).toEqual(spec);
    expect(ifd.t282[0]).toBeCloseTo(72.5, 6);
    expect(Array.from(UTIF.toRGBA8(ifd))).toEqual(Array.from(rgba));
  });

  it('PackBits decodes back (by hand) to the input', () => {
    const unpack = (src: Uint8Array): number[] => {
      const out: number[] = [];
      for (let i = 0; i < src.length;) {
        const n = (src[i++] << 24) >> 24;
        if (n >= 0) {
          out.push(...src.subarray(i, i + n + 1));
          i += n + 1;
        } else if (n !== -128) {
          out.push(...new Array(1 - n).fill(src[i++]));
        }
      }
      return out;
    };
    const cases = [
      [],
      [1],
      [1, 1],
      [1, 2],
      new Array(300).fill(7),
      Array.from({ length: 300 }, (_, i) => i & 0xff),
      [1, 2, 2, 3, 3, 3, 4, 5, 5, 5, 5, 6],
      Array.from({ length: 999 }, (_, i) => (i % 3 === 0 ? i & 0xff : 9)),
      Array.from({ length: 1000 }, (_, i) => (i * 7919) % 251)
    ];
    for (const c of cases) {
      const packed = packBits(Uint8Array.from(c));
      expect(unpack(packed)).toEqual(c);
      expect(packed.length).toBeLessThanOrEqual(
        c.length + Math.ceil(c.length / 128)
      );
    }
    expect(packBits(new Uint8Array(128)).length).toBe(2);
  });

  it('rejects a wrong pixel count', () => {
    expect(() => encodeTiff(new Uint8Array(10), 2, 2, { dpi: 300 })).toThrow(
      /not 2 × 2 RGBA pixels/
    );
  });
});

describe('SVG metadata', () => {
  const plotlySvg =
    '<svg class="main-svg" xmlns="http://www.w3.org/2000/svg" ' +
    'xmlns:xlink="http://www.w3.org/1999/xlink" width="800" height="600" ' +
    'style=\'font-family: "Open Sans"\' viewBox="0 0 800 600">' +
    '<rect x="0" y="0" width="800" height="600"/>' +
    '<text x="10" y="20">a &amp; b</text></svg>';

  function parse(svg: string): Document {
    const doc = new DOMParser().parseFromString(svg, 'image/svg+xml');
    expect(doc.getElementsByTagName('parsererror')).toHaveLength(0);
    return doc;
  }

  it('adds the spec as metadata and a physical size, keeping the viewBox', () => {
    const svg = writeSvgMetadata(plotlySvg, {
      width: 800,
      height: 600,
      json: JSON_TEXT
    });
    const doc = parse(svg);
    const root = doc.documentElement;
    expect(root.getAttribute('width')).toBe('8.3333in');
    expect(root.getAttribute('height')).toBe('6.25in');
    expect(root.getAttribute('viewBox')).toBe('0 0 800 600');
    expect(root.getAttribute('style')).toBe('font-family: "Open Sans"');
    expect(root.getAttribute('xmlns:xlink')).toBe(
      'http://www.w3.org/1999/xlink'
    );
    const meta = doc.getElementById(SVG_METADATA_ID)!;
    expect(meta.tagName).toBe('metadata');
    expect(root.firstElementChild).toBe(meta);
    expect(parseSpec(meta.textContent)).toEqual(SPEC);
    // Only one <script>-looking string, and it is text, not an element
    expect(doc.getElementsByTagName('script')).toHaveLength(0);
    expect(doc.getElementsByTagName('text')[0].textContent).toBe('a & b');
  });

  it('adds a viewBox when missing and replaces earlier metadata', () => {
    const bare =
      '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="400" height="300"/>';
    const once = writeSvgMetadata(bare, {
      width: 400,
      height: 300,
      json: '{"a":1}'
    });
    const twice = writeSvgMetadata(once, {
      width: 480,
      height: 300,
      json: JSON_TEXT
    });
    const doc = parse(twice);
    expect(doc.documentElement.getAttribute('viewBox')).toBe('0 0 400 300');
    expect(doc.documentElement.getAttribute('width')).toBe('5in');
    const metas = doc.getElementsByTagName('metadata');
    expect(metas).toHaveLength(1);
    expect(parseSpec(metas[0].textContent)).toEqual(SPEC);
  });

  it('rejects text that is not SVG', () => {
    expect(() =>
      writeSvgMetadata('<html></html>', { width: 1, height: 1 })
    ).toThrow(/no <svg> element/);
  });
});
