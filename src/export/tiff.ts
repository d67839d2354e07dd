/**
 * RGBA pixels → baseline TIFF (one image, PackBits-compressed strips, little-endian) with
 * resolution in DPI and an ImageDescription. Pure byte work, no DOM.
 *
 * Written here rather than with UTIF.encodeImage, which the tests use to decode: that
 * encoder puts the pixels at a fixed offset 1000 and builds the directory in a 20 kB
 * buffer, so an ImageDescription longer than about 900 bytes (a spec with a few dozen
 * genes) would overwrite the pixels or be cut off silently; it also has no type for tag
 * 270 and always writes alpha, uncompressed (25 MB for a 300 DPI figure).
 */
import { asciiJson } from '../plots/spec';
import { concatBytes } from './png';

const ASCII = 2;
const SHORT = 3;
const LONG = 4;
const RATIONAL = 5;

/** Uncompressed bytes per strip (the TIFF 6.0 spec suggests about 8 KB; larger is fine). */
const STRIP_BYTES = 64 * 1024;

export interface ITiffOptions {
  /** Resolution in dots per inch (XResolution, YResolution; ResolutionUnit inch). */
  dpi: number;
  /** ImageDescription; non-ASCII characters are written as \uXXXX (TIFF ASCII is 7-bit). */
  description?: string;
  /** Software tag. */
  software?: string;
}

interface IEntry {
  tag: number;
  type: number;
  values: number[] | Uint8Array;
}

/**
 * PackBits (TIFF 6.0 §9) of one row. Runs of 3 or more equal bytes become repeats,
 * everything else literal runs of up to 128 bytes, so the output is at most
 * n + ceil(n / 128) bytes (a 2-byte repeat between literals would cost more than it saves).
 */
export function packBits(src: Uint8Array): Uint8Array {
  const n = src.length;
  const out = new Uint8Array(n + Math.ceil(n / 128));
  const runAt = (i: number): number => {
    let run = 1;
    while (i + run < n && run < 128 && src[i + run] === src[i]) {
      run++;
    }
    return run;
  };
  let o = 0;
  let i = 0;
  while (i < n) {
    const run = runAt(i);
    if (run >= 3) {
      out[o++] = 257 - run; // -(run - 1) as a byte
      out[o++] = src[i];
      i += run;
      continue;
    }
    let end = i + run;
    while (end < n && end - i < 128 && runAt(end) < 3) {
      end = Math.min(end + runAt(end), i + 128);
    }
    out[o++] = end - i - 1;
    out.set(src.subarray(i, end), o);
    o += end - i;
    i = end;
  }
  return out.slice(0, o);
}

/** A rational close to `x` (TIFF RATIONAL: two unsigned 32-bit integers). */
function rational(x: number): [number, number] {
  const den = Number.isInteger(x) ? 1 : 10000;
  return [Math.round(x * den), den];
}

function asciiBytes(text: string): Uint8Array {
  const escaped = asciiJson(text).replace(/\0/g, '\\u0000');
  const out = new Uint8Array(escaped.length + 1); // NUL-terminated
  for (let i = 0; i < escaped.length; i++) {
    out[i] = escaped.charCodeAt(i);
  }
  return out;
}

/**
 * Encode `width × height` RGBA pixels (row-major, unassociated alpha as from a canvas).
 * An image whose alpha is 255 everywhere is written as RGB.
 */
export function encodeTiff(
  rgba: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  options: ITiffOptions
): Uint8Array {
  if (
    !Number.isInteger(width) ||
    !Number.isInteger(height) ||
    width < 1 ||
    height < 1 ||
    rgba.length !== width * height * 4
  ) {
    throw new RangeError(
      `encodeTiff: ${rgba.length} bytes are not ${width} × ${height} RGBA pixels`
    );
  }
  if (!(options.dpi > 0) || !Number.isFinite(options.dpi)) {
    throw new RangeError(`Invalid DPI: ${options.dpi}`);
  }
  let opaque = true;
  for (let i = 3; i < rgba.length; i += 4) {
    if (rgba[i] !== 255) {
      opaque = false;
      break;
    }
  }
  const samples = opaque ? 3 : 4;
  const rowBytes = width * samples;
  const rowsPerStrip = Math.max(1, Math.floor(STRIP_BYTES / rowBytes));
  const strips: Uint8Array[] = [];
  const row = new Uint8Array(rowBytes);
  for (let y0 = 0; y0 < height; y0 += rowsPerStrip) {
    const rows: Uint8Array[] = [];
    for (let y = y0; y < Math.min(height, y0 + rowsPerStrip); y++) {
      for (let x = 0; x < width; x++) {
        const s = (y * width + x) * 4;
        const t = x * samples;
        row[t] = rgba[s];
        row[t + 1] = rgba[s + 1];
        row[t + 2] = rgba[s + 2];
        if (samples === 4) {
          row[t + 3] = rgba[s + 3];
        }
      }
      rows.push(packBits(row)); // PackBits runs must not cross rows
    }
    strips.push(concatBytes(rows));
  }

  const entries: IEntry[] = [
    { tag: 256, type: LONG, values: [width] },
    { tag: 257, type: LONG, values: [height] },
    { tag: 258, type: SHORT, values: new Array(samples).fill(8) },
    { tag: 259, type: SHORT, values: [32773] }, // PackBits
    { tag: 262, type: SHORT, values: [2] }, // RGB
    { tag: 273, type: LONG, values: new Array(strips.length).fill(0) },
    { tag: 277, type: SHORT, values: [samples] },
    { tag: 278, type: LONG, values: [rowsPerStrip] },
    { tag: 279, type: LONG, values: strips.map(s => s.length) },
    { tag: 282, type: RATIONAL, values: rational(options.dpi) },
    { tag: 283, type: RATIONAL, values: rational(options.dpi) },
    { tag: 284, type: SHORT, values: [1] }, // chunky
    { tag: 296, type: SHORT, values: [2] } // inch
  ];
  if (options.description !== undefined) {
    entries.push({
      tag: 270,
      type: ASCII,
      values: asciiBytes(options.description)
    });
  }
  if (options.software !== undefined) {
    entries.push({
      tag: 305,
      type: ASCII,
      values: asciiBytes(options.software)
    });
  }
  if (samples === 4) {
    entries.push({ tag: 338, type: SHORT, values: [2] }); // unassociated alpha
  }
  entries.sort((a, b) => a.tag - b.tag); // directory entries must be in tag order

  const size = (e: IEntry): number =>
    e.values.length * (e.type === RATIONAL ? 4 : e.type === ASCII ? 1 : e.type);
  const ifdOffset = 8;
  const ifdSize = 2 + entries.length * 12 + 4;
  // Values longer than 4 bytes follow the directory, each at an even offset
  let dataOffset = ifdOffset + ifdSize;
  const valueOffsets = entries.map(e => {
    if (size(e) <= 4) {
      return -1;
    }
    const at = dataOffset;
    dataOffset += size(e) + (size(e) & 1);
    return at;
  });
  let stripOffset = dataOffset;
  const offsets = entries.find(e => e.tag === 273)!.values as number[];
  strips.forEach((strip, i) => {
    offsets[i] = stripOffset;
    stripOffset += strip.length;
  });

  const out = new Uint8Array(stripOffset);
  const view = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0]); // "II", 42: little-endian TIFF
  view.setUint32(4, ifdOffset, true);
  view.setUint16(ifdOffset, entries.length, true);
  entries.forEach((e, i) => {
    const at = ifdOffset + 2 + i * 12;
    view.setUint16(at, e.tag, true);
    view.setUint16(at + 2, e.type, true);
    view.setUint32(
      at + 4,
      e.type === RATIONAL ? e.values.length / 2 : e.values.length,
      true
    );
    const to = valueOffsets[i] < 0 ? at + 8 : valueOffsets[i];
    if (valueOffsets[i] >= 0) {
      view.setUint32(at + 8, to, true);
    }
    for (let k = 0; k < e.values.length; k++) {
      const v = e.values[k];
      if (e.type === ASCII) {
        out[to + k] = v;
      } else if (e.type === SHORT) {
        view.setUint16(to + 2 * k, v, true);
      } else {
        view.setUint32(to + 4 * k, v, true); // LONG, and RATIONAL's two LONGs
      }
    }
  });
  view.setUint32(ifdOffset + 2 + entries.length * 12, 0, true); // no next IFD
  let p = dataOffset;
  for (const strip of strips) {
    out.set(strip, p);
    p += strip.length;
  }
  return out;
}
