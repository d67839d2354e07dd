/**
 * The parts of a chunked reply, joined as they arrive. The kernel cuts a payload into
 * parts of one size (the last one shorter, docs/protocol.md), so part k belongs at k · size:
 * each arrival copies itself into place, and a million-cell reply (38 MB in five parts) is
 * never copied in one task of the UI thread (that join alone took 40–70 ms). Parts that do
 * not follow the pattern (another kernel, base64 parts of any size) are joined at the end.
 */
export class PartsAssembler {
  constructor(readonly parts: number) {}

  /** Whether part `part` has arrived (a duplicate is ignored). */
  has(part: number): boolean {
    return this._received[part] !== undefined;
  }

  /** Part `part` arrived with these bytes (null: a part without a buffer). */
  add(part: number, chunk: Uint8Array | null): void {
    this._received[part] = chunk;
    this._bytes += chunk?.byteLength ?? 0;
    if (this.parts === 1 || !this._inPlace) {
      return;
    }
    const last = part === this.parts - 1;
    if (this._size === 0 && !last && chunk && chunk.byteLength > 0) {
      this._size = chunk.byteLength;
      this._joined = new Uint8Array(this.parts * this._size);
    }
    if (this._size > 0) {
      this._place(part);
    }
  }

  /** Bytes received so far. */
  get receivedBytes(): number {
    return this._bytes;
  }

  /**
   * The whole payload once every part arrived, in memory of its own (a single part is
   * copied out of its message: the payload may be moved to a worker, see CommClient);
   * null if empty.
   */
  bytes(): Uint8Array | null {
    const present = this._received.filter((c): c is Uint8Array => !!c);
    if (present.length === 0) {
      return null;
    }
    if (present.length === 1) {
      return present[0].slice();
    }
    if (this._inPlace && this._joined) {
      // A last part that came before any full-size one is placed now
      this._received.forEach((_, part) => this._place(part));
    }
    if (this._inPlace && this._joined) {
      return this._joined.subarray(0, this._bytes);
    }
    const out = new Uint8Array(this._bytes);
    let offset = 0;
    for (const chunk of present) {
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return out;
  }

  private _place(part: number): void {
    const chunk = this._received[part];
    if (this._placed.has(part) || chunk === undefined) {
      return;
    }
    const fits =
      chunk !== null &&
      (part === this.parts - 1
        ? chunk.byteLength <= this._size
        : chunk.byteLength === this._size);
    if (!fits) {
      // Not the kernel's pattern: join at the end instead
      this._inPlace = false;
      this._joined = null;
      return;
    }
    this._joined!.set(chunk!, part * this._size);
    this._placed.add(part);
  }

  private _received: (Uint8Array | null | undefined)[] = [];
  private _placed = new Set<number>();
  private _bytes = 0;
  private _size = 0;
  private _joined: Uint8Array | null = null;
  private _inPlace = true;
}
