/**
 * JPEG metadata: JFIF density (APP0) and comments (COM) written into a JPEG's bytes.
 * Pure byte work, no DOM. Only the header segments before the first SOS are touched;
 * the entropy-coded image data is copied unchanged.
 */
import { concatBytes } from './png';

const SOI = 0xd8;
const SOS = 0xda;
const APP0 = 0xe0;
const COM = 0xfe;
/** A segment holds at most 65535 − 2 length bytes of payload. */
const MAX_PAYLOAD = 65533;

interface ISegment {
  marker: number;
  /** Payload, without marker and length. */
  data: Uint8Array;
}

function isJfif(segment: ISegment): boolean {
  const d = segment.data;
  return (
    segment.marker === APP0 &&
    d.length >= 14 &&
    String.fromCharCode(...d.subarray(0, 5)) === 'JFIF\0'
  );
}

/** Header segments up to (not including) SOS, and the offset where SOS starts. */
function readHeader(jpeg: Uint8Array): { segments: ISegment[]; rest: number } {
  if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== SOI) {
    throw new Error('Not a JPEG image (no SOI marker).');
  }
  const segments: ISegment[] = [];
  let offset = 2;
  for (;;) {
    if (offset + 4 > jpeg.length || jpeg[offset] !== 0xff) {
      throw new Error('Corrupt JPEG header: no SOS segment found.');
    }
    const marker = jpeg[offset + 1];
    if (marker === 0xff) {
      offset++; // fill byte
      continue;
    }
    if (marker === SOS) {
      return { segments, rest: offset };
    }
    const length = (jpeg[offset + 2] << 8) | jpeg[offset + 3];
    if (length < 2 || offset + 2 + length > jpeg.length) {
      throw new Error('Corrupt JPEG header: a segment runs past the end.');
    }
    segments.push({
      marker,
      data: jpeg.subarray(offset + 4, offset + 2 + length)
    });
    offset += 2 + length;
  }
}

function encodeSegment(segment: ISegment): Uint8Array {
  const length = segment.data.length + 2;
  const out = new Uint8Array(2 + length);
  out[0] = 0xff;
  out[1] = segment.marker;
  out[2] = length >> 8;
  out[3] = length & 0xff;
  out.set(segment.data, 4);
  return out;
}

function jfif(dpi: number, existing: ISegment | undefined): ISegment {
  // Keep version and thumbnail of an existing JFIF segment; set units 1 (dots per inch)
  const data = existing
    ? Uint8Array.from(existing.data)
    : Uint8Array.from([0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
  const density = Math.round(dpi);
  data[7] = 1;
  data[8] = density >> 8;
  data[9] = density & 0xff;
  data[10] = density >> 8;
  data[11] = density & 0xff;
  return { marker: APP0, data };
}

export interface IJpegMetadata {
  /** Density in dots per inch, written into the JFIF APP0 segment (1..65535). */
  dpi?: number;
  /**
   * Comment (UTF-8), written as COM segments in place of any existing ones: split in as
   * many as needed (64 KB each); readers concatenate them (`readJpegComment`).
   */
  comment?: string;
}

/** The JPEG with its JFIF density set (an APP0 is added if missing) and the comment. */
export function writeJpegMetadata(
  jpeg: Uint8Array,
  metadata: IJpegMetadata
): Uint8Array {
  const { segments, rest } = readHeader(jpeg);
  let kept = segments;
  const head: ISegment[] = [];
  if (metadata.dpi !== undefined) {
    const dpi = Math.round(metadata.dpi);
    if (!(dpi >= 1 && dpi <= 65535)) {
      throw new RangeError(`JPEG density must be 1..65535 DPI, not ${dpi}.`);
    }
    head.push(jfif(dpi, segments.find(isJfif)));
    kept = kept.filter(s => !isJfif(s));
  }
  if (metadata.comment !== undefined) {
    kept = kept.filter(s => s.marker !== COM);
    const bytes = new TextEncoder().encode(metadata.comment);
    for (let i = 0; i < bytes.length; i += MAX_PAYLOAD) {
      head.push({ marker: COM, data: bytes.subarray(i, i + MAX_PAYLOAD) });
    }
  }
  // JFIF requires its APP0 right after SOI; the comments may go anywhere before SOS
  const firstJfif = kept.length > 0 && isJfif(kept[0]) ? [kept.shift()!] : [];
  const ordered = [...firstJfif, ...head, ...kept];
  return concatBytes([
    Uint8Array.from([0xff, SOI]),
    ...ordered.map(encodeSegment),
    jpeg.subarray(rest)
  ]);
}

/** JFIF density (null: no JFIF segment); `units` 0 = aspect ratio only, 1 = dpi, 2 = dpcm. */
export function readJpegDensity(
  jpeg: Uint8Array
): { units: number; x: number; y: number } | null {
  const segment = readHeader(jpeg).segments.find(isJfif);
  if (!segment) {
    return null;
  }
  const d = segment.data;
  return { units: d[7], x: (d[8] << 8) | d[9], y: (d[10] << 8) | d[11] };
}

/** All COM segments concatenated and read as UTF-8 (null: none). */
export function readJpegComment(jpeg: Uint8Array): string | null {
  const parts = readHeader(jpeg)
    .segments.filter(s => s.marker === COM)
    .map(s => s.data);
  return parts.length === 0
    ? null
    : new TextDecoder().decode(concatBytes(parts));
}
