import {
  Dictionary,
  Int32,
  makeVector,
  Table,
  tableToIPC,
  Utf8,
  Vector,
  vectorFromArray
} from 'apache-arrow';

/** Column values as a kernel would send them (see docs/protocol.md). */
export type ColumnValues =
  | Float32Array
  | Float64Array
  | (string | null)[]
  | { categorical: (string | null)[] }
  | Vector;

function toVector(values: ColumnValues): Vector {
  if (values instanceof Vector) {
    return values;
  }
  if (values instanceof Float32Array || values instanceof Float64Array) {
    return makeVector(values);
  }
  if (Array.isArray(values)) {
    return vectorFromArray(values, new Utf8());
  }
  return vectorFromArray(
    values.categorical,
    new Dictionary(new Utf8(), new Int32())
  );
}

/** A table of one record batch with the given columns. */
export function fetchTable(columns: Record<string, ColumnValues>): Table {
  const vectors: Record<string, Vector> = {};
  for (const [name, values] of Object.entries(columns)) {
    vectors[name] = toVector(values);
  }
  return new Table(vectors);
}

/**
 * Arrow IPC stream bytes of a fetch reply; several column sets give one
 * record batch each (same column names and types in each).
 */
export function encodeFetchTable(
  ...batches: Record<string, ColumnValues>[]
): Uint8Array {
  const tables = batches.map(fetchTable);
  const table = tables.slice(1).reduce((all, t) => all.concat(t), tables[0]);
  return tableToIPC(table, 'stream');
}
