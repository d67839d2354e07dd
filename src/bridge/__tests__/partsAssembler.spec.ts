import { PartsAssembler } from '../partsAssembler';

const bytes = (from: number, length: number) =>
  Uint8Array.from({ length }, (_, i) => (from + i) & 0xff);

function joined(...chunks: Uint8Array[]): number[] {
  return chunks.flatMap(chunk => Array.from(chunk));
}

describe('PartsAssembler', () => {
  it('places equal parts as they arrive, in any order, the last one shorter', () => {
    const parts = [bytes(0, 8), bytes(8, 8), bytes(16, 8), bytes(24, 3)];
    const assembler = new PartsAssembler(4);
    for (const part of [2, 3, 0, 1]) {
      assembler.add(part, parts[part]);
    }
    expect(assembler.receivedBytes).toBe(27);
    const payload = assembler.bytes()!;
    expect(Array.from(payload)).toEqual(joined(...parts));
    // One buffer of parts × size, filled in place (no join at the end)
    expect(payload.buffer.byteLength).toBe(32);
    expect(assembler.has(3)).toBe(true);
  });

  it('places a last part that came first once a full one gives the size', () => {
    const parts = [bytes(0, 5), bytes(5, 2)];
    const assembler = new PartsAssembler(2);
    assembler.add(1, parts[1]);
    assembler.add(0, parts[0]);
    expect(Array.from(assembler.bytes()!)).toEqual(joined(...parts));
  });

  it('joins parts of other sizes, and parts without bytes, at the end', () => {
    const parts = [bytes(0, 4), bytes(4, 6), bytes(10, 1)];
    const assembler = new PartsAssembler(3);
    parts.forEach((chunk, part) => assembler.add(part, chunk));
    expect(Array.from(assembler.bytes()!)).toEqual(joined(...parts));
    const gaps = new PartsAssembler(3);
    gaps.add(0, bytes(0, 4));
    gaps.add(1, null);
    gaps.add(2, bytes(4, 4));
    expect(Array.from(gaps.bytes()!)).toEqual(joined(bytes(0, 8)));
  });

  it('copies a single part out of its message, and returns null without bytes', () => {
    // The part is a view of a kernel message's buffer, with a header before it
    const message = bytes(0, 16);
    const only = message.subarray(6);
    const one = new PartsAssembler(1);
    one.add(0, only);
    const payload = one.bytes()!;
    expect(Array.from(payload)).toEqual(Array.from(only));
    // Its own memory, which can be moved to a worker without emptying the message
    expect(payload.buffer).not.toBe(message.buffer);
    expect(payload.buffer.byteLength).toBe(10);
    const none = new PartsAssembler(2);
    none.add(0, null);
    none.add(1, null);
    expect(none.bytes()).toBeNull();
  });
});
