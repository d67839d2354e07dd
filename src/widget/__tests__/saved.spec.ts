import {
  encodeFigure,
  MAX_SAVED_TABLE_BYTES,
  readPayload,
  savePlot
} from '../saved';
import { LiveModelRegistry } from '../registry';

function decode(spec: { dtype: string; bdata: string }): number[] {
  const bytes = Uint8Array.from(atob(spec.bdata), c => c.charCodeAt(0));
  const types: Record<string, any> = {
    f4: Float32Array,
    f8: Float64Array,
    i4: Int32Array,
    u1: Uint8Array
  };
  return Array.from(new types[spec.dtype](bytes.buffer));
}

describe('encodeFigure', () => {
  it("writes typed arrays as Plotly's base64 typed arrays, exactly", () => {
    const x = new Float32Array([0, 1.5, -2.25, 3.1]);
    const codes = new Int32Array([0, -1, 7]);
    const encoded = encodeFigure({
      data: [
        {
          type: 'scattergl',
          x: x as any,
          marker: { color: codes as any }
        }
      ],
      layout: { title: { text: 'ISG15 vs IFI6' } }
    });
    const trace = encoded.data[0] as any;
    expect(trace.x.dtype).toBe('f4');
    expect(decode(trace.x)).toEqual(Array.from(x));
    expect(trace.marker.color.dtype).toBe('i4');
    expect(decode(trace.marker.color)).toEqual([0, -1, 7]);
    // Plain JSON survives a round trip through the notebook file.
    expect(JSON.parse(JSON.stringify(encoded))).toEqual(encoded);
  });

  it('writes rows of one typed array type as a 2-D typed array (numpy shape)', () => {
    const counts = Uint32Array.from([1, 2, 3, 4, 5, 6]);
    const rows = [counts.subarray(0, 3), counts.subarray(3, 6)];
    const trace = encodeFigure({
      data: [{ type: 'image', customdata: rows as any, z: [[1, 2]] as any }],
      layout: {}
    }).data[0] as any;
    expect(trace.customdata.dtype).toBe('u4');
    expect(trace.customdata.shape).toBe('2,3');
    const bytes = Uint8Array.from(atob(trace.customdata.bdata), c =>
      c.charCodeAt(0)
    );
    expect(Array.from(new Uint32Array(bytes.buffer))).toEqual([
      1, 2, 3, 4, 5, 6
    ]);
    // Plain nested arrays, or rows that differ, stay as they are
    expect(trace.z).toEqual([[1, 2]]);
    const mixed = encodeFigure({
      data: [{ customdata: [counts, new Float32Array(2)] as any }],
      layout: {}
    }).data[0] as any;
    expect(mixed.customdata.map((row: any) => row.dtype)).toEqual(['u4', 'f4']);
  });

  it("drops Plotly's private keys and functions, and non-finite numbers", () => {
    const encoded = encodeFigure({
      data: [{ type: 'heatmap', z: [[1, NaN]] as any, _input: {} } as any],
      layout: { _fullLayout: {}, width: Infinity } as any
    });
    expect(encoded.data[0]).toEqual({ type: 'heatmap', z: [[1, null]] });
    expect(encoded.layout).toEqual({ width: null });
  });
});

describe('savePlot', () => {
  it('keeps small tables and never builds those that cannot fit', () => {
    const graph = document.createElement('div') as any;
    graph.data = [{ type: 'heatmap', z: [[1, 2]] }];
    graph.layout = {};
    const huge = jest.fn(() => 'x');
    const saved = savePlot(
      graph,
      [
        { name: 'statistics', rows: 1, csv: () => 'r\r\n0.5\r\n' },
        { name: 'cells', rows: MAX_SAVED_TABLE_BYTES, csv: huge },
        {
          name: 'wide',
          rows: 2,
          csv: () => 'y'.repeat(MAX_SAVED_TABLE_BYTES + 1)
        }
      ],
      ['a note']
    );
    expect(huge).not.toHaveBeenCalled();
    expect(saved.tables).toEqual([{ name: 'statistics', csv: 'r\r\n0.5\r\n' }]);
    expect(saved.notes).toEqual([
      'a note',
      'Not kept in the notebook (too large): cells, wide; re-run the cell to download it.'
    ]);
    expect(saved.figure?.data).toHaveLength(1);
  });
});

describe('readPayload', () => {
  it('accepts the JSON the Python widget writes and rejects damaged outputs', () => {
    expect(readPayload({ model_id: 'abc', spec: { kind: 'heatmap' } })).toEqual(
      {
        model_id: 'abc',
        spec: { kind: 'heatmap' }
      }
    );
    expect(readPayload(null)).toBeNull();
    expect(readPayload({ model_id: 'abc' })).toBeNull();
    expect(readPayload([1])).toBeNull();
  });
});

describe('LiveModelRegistry', () => {
  it('resolves a model added after the wait began, and null on timeout', async () => {
    const registry = new LiveModelRegistry<{ name: string }>();
    const waiting = registry.whenAvailable('m1', 1000);
    const model = { name: 'plot' };
    registry.add('m1', model);
    await expect(waiting).resolves.toBe(model);
    await expect(registry.whenAvailable('m2', 10)).resolves.toBeNull();
    registry.remove('m1', { name: 'other' }); // another model: kept
    expect(registry.get('m1')).toBe(model);
    registry.remove('m1', model);
    expect(registry.get('m1')).toBeNull();
  });
});
