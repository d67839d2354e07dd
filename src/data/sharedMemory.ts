/**
 * Where decoded columns live. On a cross-origin-isolated page (the server sends the
 * COOP/COEP headers: `--ExprscopeServer.cross_origin_isolation=True`, see
 * docs/performance.md), gene values, embeddings and category codes are allocated in
 * `SharedArrayBuffer`s, so that handing them to a plot's Web Worker shares the memory
 * instead of copying it (a million cells: 18 MB and ~30 ms of the UI thread per view). The
 * reply and the cell ids (which workers never get) stay in plain memory. Elsewhere
 * browsers do not offer shared memory, and columns are plain `ArrayBuffer`s, copied to
 * the worker once per dataset.
 *
 * Shared columns are read-only by contract: the cache, the views and the workers all
 * read them and none writes into them.
 */

/** The typed arrays decoded columns are made of. */
export type ColumnArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array;

interface IColumnArrayType<T extends ColumnArray> {
  new (length: number): T;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

/** Whether this page (or worker) can allocate shared memory. */
export function sharedMemoryAvailable(): boolean {
  return (
    typeof SharedArrayBuffer !== 'undefined' &&
    (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated ===
      true
  );
}

/** Whether `array`'s memory is shared (posting it to a worker does not copy it). */
export function isShared(array: ArrayBufferView): boolean {
  return (
    typeof SharedArrayBuffer !== 'undefined' &&
    array.buffer instanceof SharedArrayBuffer
  );
}

/** A zeroed array of `length` elements, in shared memory where the page has it. */
export function allocateColumn<T extends ColumnArray>(
  ArrayType: IColumnArrayType<T>,
  length: number
): T {
  return sharedMemoryAvailable()
    ? new ArrayType(
        new SharedArrayBuffer(length * ArrayType.BYTES_PER_ELEMENT),
        0,
        length
      )
    : new ArrayType(length);
}

/** A copy of `array` that owns its memory (shared where the page has it). */
export function copyColumn<T extends ColumnArray>(array: T): T {
  const copy = allocateColumn(
    array.constructor as IColumnArrayType<T>,
    array.length
  );
  copy.set(array as ArrayLike<number> & T);
  return copy;
}

/**
 * `array` itself where it is in shared memory or the page has none, else a shared copy.
 * The reply a column is decoded from stays in plain memory: Arrow decodes its strings with
 * TextDecoder, which browsers refuse for views of shared memory.
 */
export function inSharedMemory<T extends ColumnArray>(array: T): T {
  return sharedMemoryAvailable() && !isShared(array)
    ? copyColumn(array)
    : array;
}
