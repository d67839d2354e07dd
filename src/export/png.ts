/**
 * PNG bytes: metadata (physical resolution pHYs, UTF-8 text iTXt) written into a PNG, and
 * small palette images encoded from scratch. Pure byte work, no DOM. Chunk layout: length
 * (4, big-endian), type (4), data, CRC-32 of type + data (PNG spec §5.3).
 */

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) {
      c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (ISO 3309, as PNG and zlib use it). */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  }
  return ~c >>> 0;
}

export interface IPngChunk {
  type: string;
  data: Uint8Array;
  /** The CRC stored in the file (checked by `readPngChunks`). */
  crc: number;
}

function typeBytes(type: string): Uint8Array {
  return new Uint8Array([...type].map(c => c.charCodeAt(0)));
}

/** Split a PNG into its chunks; throws on a bad signature, truncation or a wrong CRC. */
export function readPngChunks(png: Uint8Array): IPngChunk[] {
  if (png.length < 8 || SIGNATURE.some((b, i) => png[i] !== b)) {
    throw new Error('Not a PNG image (bad signature).');
  }
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const chunks: IPngChunk[] = [];
  let offset = 8;
  while (offset < png.length) {
    if (offset + 12 > png.length) {
      throw new Error('Truncated PNG chunk.');
    }
    const length = view.getUint32(offset);
    const end = offset + 12 + length;
    if (end > png.length) {
      throw new Error('Truncated PNG chunk.');
    }
    const type = String.fromCharCode(...png.subarray(offset + 4, offset + 8));
    const data = png.subarray(offset + 8, offset + 8 + length);
    const crc = view.getUint32(offset + 8 + length);
    if (crc32(png.subarray(offset + 4, offset + 8 + length)) !== crc) {
      throw new Error(`PNG chunk ${type} has a wrong CRC.`);
    }
    chunks.push({ type, data, crc });
    offset = end;
    if (type === 'IEND') {
      break;
    }
  }
  return chunks;
}

function encodeChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(typeBytes(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Pixels per metre for a DPI, as pHYs stores it (1 inch = 0.0254 m). */
export function pixelsPerMetre(dpi: number): number {
  return Math.round(dpi / 0.0254);
}

function pHYs(dpi: number): Uint8Array {
  const data = new Uint8Array(9);
  const view = new DataView(data.buffer);
  const ppm = pixelsPerMetre(dpi);
  view.setUint32(0, ppm);
  view.setUint32(4, ppm);
  data[8] = 1; // unit: metre
  return data;
}

const utf8 = new TextEncoder();

function checkKeyword(keyword: string): void {
  // PNG keywords: 1-79 Latin-1 printable characters, no leading/trailing/double spaces
  if (
    !/^[\x20-\x7e\xa1-\xff]{1,79}$/.test(keyword) ||
    /^ | $| {2}/.test(keyword)
  ) {
    throw new Error(`Invalid PNG text keyword: ${JSON.stringify(keyword)}`);
  }
}

function iTXt(keyword: string, text: string): Uint8Array {
  checkKeyword(keyword);
  const key = Uint8Array.from(keyword, c => c.charCodeAt(0));
  const body = utf8.encode(text);
  // keyword NUL, compression flag 0, method 0, language "" NUL, translated keyword "" NUL
  const data = new Uint8Array(key.length + 5 + body.length);
  data.set(key, 0);
  data.set(body, key.length + 5);
  return data;
}

/** The keyword of a tEXt / zTXt / iTXt chunk. */
function textKeyword(chunk: IPngChunk): string | null {
  if (!['tEXt', 'zTXt', 'iTXt'].includes(chunk.type)) {
    return null;
  }
  const nul = chunk.data.indexOf(0);
  return String.fromCharCode(...chunk.data.subarray(0, nul < 0 ? 0 : nul));
}

export interface IPngMetadata {
  /** Resolution written as pHYs; omitted: keep what is there. */
  dpi?: number;
  /** Text chunks by keyword (e.g. exprscope → spec JSON, Software → exprscope 0.1.0). */
  text?: Record<string, string>;
}

/**
 * The PNG with its pHYs chunk set and one iTXt chunk per keyword: existing pHYs and text
 * chunks with the same keywords are replaced; the new chunks go before the first IDAT
 * (where pHYs must be, and where readers that stop at the image data still see the text).
 */
export function writePngMetadata(
  png: Uint8Array,
  metadata: IPngMetadata
): Uint8Array {
  const chunks = readPngChunks(png);
  const keywords = new Set(Object.keys(metadata.text ?? {}));
  const added: Uint8Array[] = [];
  if (metadata.dpi !== undefined) {
    if (!(metadata.dpi > 0) || !Number.isFinite(metadata.dpi)) {
      throw new RangeError(`Invalid DPI: ${metadata.dpi}`);
    }
    added.push(encodeChunk('pHYs', pHYs(metadata.dpi)));
  }
  for (const [keyword, text] of Object.entries(metadata.text ?? {})) {
    added.push(encodeChunk('iTXt', iTXt(keyword, text)));
  }
  const parts: Uint8Array[] = [Uint8Array.from(SIGNATURE)];
  let inserted = false;
  for (const chunk of chunks) {
    if (
      (chunk.type === 'pHYs' && metadata.dpi !== undefined) ||
      keywords.has(textKeyword(chunk) ?? '\0')
    ) {
      continue;
    }
    if (!inserted && (chunk.type === 'IDAT' || chunk.type === 'IEND')) {
      parts.push(...added);
      inserted = true;
    }
    parts.push(encodeChunk(chunk.type, chunk.data));
  }
  return concatBytes(parts);
}

/** Text chunks (tEXt Latin-1, iTXt UTF-8 uncompressed) by keyword. */
export function readPngText(png: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (const chunk of readPngChunks(png)) {
    const keyword = textKeyword(chunk);
    if (keyword === null) {
      continue;
    }
    const d = chunk.data;
    if (chunk.type === 'tEXt') {
      let text = '';
      for (let i = keyword.length + 1; i < d.length; i++) {
        text += String.fromCharCode(d[i]); // Latin-1
      }
      out[keyword] = text;
    } else if (chunk.type === 'iTXt' && d[keyword.length + 1] === 0) {
      let p = d.indexOf(0, keyword.length + 3); // end of language tag
      p = d.indexOf(0, p + 1); // end of translated keyword
      out[keyword] = decoder.decode(d.subarray(p + 1));
    }
  }
  return out;
}

/** The pHYs resolution in DPI (null: none, or not in metres). */
export function readPngDpi(png: Uint8Array): { x: number; y: number } | null {
  const chunk = readPngChunks(png).find(c => c.type === 'pHYs');
  if (!chunk || chunk.data[8] !== 1) {
    return null;
  }
  const view = new DataView(chunk.data.buffer, chunk.data.byteOffset, 9);
  return { x: view.getUint32(0) * 0.0254, y: view.getUint32(4) * 0.0254 };
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** An RGBA colour, each channel 0–255. */
export type Rgba = readonly [number, number, number, number];

/**
 * A palette PNG (colour type 3, 8 bits per pixel) of `width` × `height` pixels, pixel
 * (column c, row r) drawn in `palette[indices[r · width + c]]`, row 0 first (the top of
 * the picture). Alpha goes into a tRNS chunk. The image data is stored, not compressed:
 * encoding is a copy and two checksums (~1 ms for 400 × 400 pixels), where compressing
 * would cost more than the bytes it saves.
 */
export function encodePalettePng(
  width: number,
  height: number,
  indices: Uint8Array,
  palette: readonly Rgba[]
): Uint8Array {
  if (!(width >= 1 && height >= 1) || indices.length !== width * height) {
    throw new Error(
      `encodePalettePng: ${indices.length} pixels for ${width} × ${height}.`
    );
  }
  if (palette.length < 1 || palette.length > 256) {
    throw new Error(
      `encodePalettePng: ${palette.length} palette entries (1–256).`
    );
  }
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = 3; // colour type: palette
  // compression, filter and interlace methods: 0
  const rgb = new Uint8Array(palette.length * 3);
  const alpha = new Uint8Array(palette.length);
  palette.forEach(([r, g, b, a], i) => {
    rgb.set([r, g, b], 3 * i);
    alpha[i] = a;
  });
  // Each row: filter type 0 (none), then its indices
  const raw = new Uint8Array(height * (width + 1));
  for (let row = 0; row < height; row++) {
    raw.set(
      indices.subarray(row * width, (row + 1) * width),
      row * (width + 1) + 1
    );
  }
  return concatBytes([
    new Uint8Array(SIGNATURE),
    encodeChunk('IHDR', header),
    encodeChunk('PLTE', rgb),
    encodeChunk('tRNS', alpha),
    encodeChunk('IDAT', zlibStored(raw)),
    encodeChunk('IEND', new Uint8Array(0))
  ]);
}

/** A zlib stream (RFC 1950) of `data` in stored deflate blocks (RFC 1951 §3.2.4). */
function zlibStored(data: Uint8Array): Uint8Array {
  const MAX_BLOCK = 0xffff;
  const nBlocks = Math.max(1, Math.ceil(data.length / MAX_BLOCK));
  const out = new Uint8Array(2 + data.length + 5 * nBlocks + 4);
  const view = new DataView(out.buffer);
  out[0] = 0x78; // deflate, 32 KB window
  out[1] = 0x01; // no preset dictionary, fastest; (0x78 · 256 + 0x01) % 31 = 0
  let at = 2;
  for (let block = 0; block < nBlocks; block++) {
    const from = block * MAX_BLOCK;
    const length = Math.min(MAX_BLOCK, data.length - from);
    out[at] = block === nBlocks - 1 ? 1 : 0; // BFINAL, BTYPE = 00 (stored)
    view.setUint16(at + 1, length, true);
    view.setUint16(at + 3, ~length & 0xffff, true);
    out.set(data.subarray(from, from + length), at + 5);
    at += 5 + length;
  }
  view.setUint32(at, adler32(data));
  return out;
}

/** Adler-32 (RFC 1950 §8), zlib's checksum of the uncompressed data. */
export function adler32(bytes: Uint8Array): number {
  const MOD = 65521;
  // Sums stay below 2^53 for 5552 bytes between reductions (zlib's NMAX)
  const NMAX = 5552;
  let a = 1;
  let b = 0;
  for (let i = 0; i < bytes.length; i += NMAX) {
    const end = Math.min(bytes.length, i + NMAX);
    for (let k = i; k < end; k++) {
      a += bytes[k];
      b += a;
    }
    a %= MOD;
    b %= MOD;
  }
  return ((b << 16) | a) >>> 0;
}

/** Base64 of bytes (as in data: URLs and Plotly's typed-array JSON). */
export function toBase64(bytes: ArrayBufferView): string {
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let text = '';
  const step = 0x8000;
  for (let i = 0; i < view.length; i += step) {
    text += String.fromCharCode(...view.subarray(i, i + step));
  }
  return btoa(text);
}
