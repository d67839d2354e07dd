import { drawInTurn, IFigure, shareUnchangedArrays } from '../plotly';
import { nextTask } from '../../tasks';

describe('shareUnchangedArrays', () => {
  const figure = (
    z: number[][],
    x: Float32Array,
    color: string[]
  ): IFigure => ({
    data: [
      {
        type: 'heatmap',
        z,
        customdata: z.map(row => row.map(v => [v, 1])) as any
      },
      { type: 'scattergl', x, y: x, marker: { color, size: 3 } }
    ],
    layout: { title: { text: 't' } }
  });

  it('passes the previous arrays where the content is equal', () => {
    const before = figure(
      [
        [1, 2],
        [3, 4]
      ],
      Float32Array.from([1, 2]),
      ['a', 'b']
    );
    const after = figure(
      [
        [1, 2],
        [3, 4]
      ],
      Float32Array.from([1, 2]),
      ['a', 'c']
    );
    const shared = shareUnchangedArrays(before, after);
    const [heatmap, points] = shared.data as any[];
    const [heatmapBefore, pointsBefore] = before.data as any[];
    expect(heatmap.z).toBe(heatmapBefore.z);
    expect(heatmap.customdata).toBe(heatmapBefore.customdata);
    expect(points.x).toBe(pointsBefore.x);
    expect(points.y).toBe(pointsBefore.y);
    // Changed content stays new, nested objects are followed
    expect(points.marker.color).toBe((after.data[1] as any).marker.color);
    expect(points.marker.size).toBe(3);
    // The figure given is not changed in place
    expect((after.data[0] as any).z).not.toBe(heatmapBefore.z);
    expect(shared.layout).toBe(after.layout);
  });

  it('keeps new arrays of another length, type or trace type', () => {
    const before = figure([[1, 2]], Float32Array.from([1, 2]), ['a']);
    const longer = figure([[1, 2, 3]], Float32Array.from([1, 2, 3]), ['a']);
    const shared = shareUnchangedArrays(before, longer);
    expect((shared.data[0] as any).z).toBe((longer.data[0] as any).z);
    expect((shared.data[1] as any).x).toBe((longer.data[1] as any).x);
    const float64 = figure([[1, 2]], Float64Array.from([1, 2]) as any, ['a']);
    expect(
      (shareUnchangedArrays(before, float64).data[1] as any).x
    ).toBeInstanceOf(Float64Array);
    const retyped: IFigure = {
      data: [{ ...before.data[0], type: 'contour' }],
      layout: {}
    };
    expect(shareUnchangedArrays(before, retyped).data[0]).toBe(retyped.data[0]);
    // NaN is never equal: such arrays are passed as new (a redraw, never stale)
    const nan = figure([[NaN]], Float32Array.from([NaN]), []);
    const again = figure([[NaN]], Float32Array.from([NaN]), []);
    expect((shareUnchangedArrays(nan, again).data[1] as any).x).toBe(
      (again.data[1] as any).x
    );
  });

  it('returns the figure itself when nothing can be shared', () => {
    const after = figure([[1]], Float32Array.from([1]), ['a']);
    expect(shareUnchangedArrays(null, after)).toBe(after);
    expect(
      shareUnchangedArrays(figure([[2]], Float32Array.from([2]), ['b']), after)
    ).toBe(after);
  });
});

describe('drawInTurn', () => {
  it('runs draws one at a time, in order, each after the previous in a new task', async () => {
    const order: string[] = [];
    let resolveFirst: () => void = () => undefined;
    const first = drawInTurn(() => {
      order.push('first');
      // Like Plotly.react: the draw is done when its promise is
      return new Promise<void>(resolve => (resolveFirst = resolve));
    });
    const failing = drawInTurn(() => {
      order.push('failing');
      throw new Error('bad figure');
    });
    const third = drawInTurn(() => {
      order.push('third');
      return 3;
    });
    // The first starts at once (no draw before it)
    await Promise.resolve();
    expect(order).toEqual(['first']);
    await nextTask();
    await nextTask();
    // The second waits for the first's promise
    expect(order).toEqual(['first']);
    resolveFirst();
    await first;
    // Not in the first's task: only after a new one
    await Promise.resolve();
    expect(order).toEqual(['first']);
    // A failed draw fails alone; the next still runs
    await expect(failing).rejects.toThrow('bad figure');
    await expect(third).resolves.toBe(3);
    expect(order).toEqual(['first', 'failing', 'third']);
    // Once all are done, a new draw starts at once again
    await nextTask();
    const alone = drawInTurn(() => order.push('alone'));
    await Promise.resolve();
    expect(order).toContain('alone');
    await alone;
  });

  it('yields to tasks queued before it', async () => {
    const order: string[] = [];
    setTimeout(() => order.push('earlier task'), 0);
    await nextTask();
    order.push('after the yield');
    expect(order).toEqual(['earlier task', 'after the yield']);
  });
});

describe('warmUpPlotly', () => {
  // A fresh module per test: whether a real draw happened is the page's state.
  const freshModule = (): typeof import('../plotly') => {
    let module: typeof import('../plotly') | undefined;
    jest.isolateModules(() => {
      module = require('../plotly');
    });
    return module!;
  };

  // Plotly cannot draw in jsdom (no SVG text measurement): a stand-in that records
  // where it was asked to draw.
  const fakePlotly = (fail = false) => {
    const hosts: { inPage: boolean; hidden: boolean }[] = [];
    return {
      hosts,
      newPlot: jest.fn(async (host: HTMLElement) => {
        hosts.push({
          inPage: host.isConnected,
          hidden: host.style.visibility === 'hidden'
        });
        if (fail) {
          throw new Error('no WebGL');
        }
        return host;
      }),
      purge: jest.fn()
    };
  };

  it('draws once in a hidden element of the page, then removes it', async () => {
    const { warmUpPlotly, plotDrawCount } = freshModule();
    const plotly = fakePlotly();
    await expect(warmUpPlotly(plotly as any)).resolves.toBe(true);
    expect(plotly.hosts).toEqual([{ inPage: true, hidden: true }]);
    expect(plotly.purge).toHaveBeenCalledTimes(1);
    expect(document.querySelector('[data-exprscope-warm-up]')).toBeNull();
    // Not a draw of the page's plots
    expect(plotDrawCount()).toBe(0);
  });

  it('gives way to a real draw waiting behind it', async () => {
    const { warmUpPlotly, drawInTurn, plotDrawCount } = freshModule();
    const plotly = fakePlotly();
    // Asked for before the warm-up's turn has started
    const warmUp = warmUpPlotly(plotly as any);
    const real = drawInTurn(() => 'drawn');
    await expect(warmUp).resolves.toBe(false);
    await expect(real).resolves.toBe('drawn');
    expect(plotly.newPlot).not.toHaveBeenCalled();
    expect(plotDrawCount()).toBe(1);
  });

  it('draws nothing once the page has drawn a plot', async () => {
    const { warmUpPlotly, drawInTurn } = freshModule();
    await drawInTurn(() => undefined);
    const plotly = fakePlotly();
    await expect(warmUpPlotly(plotly as any)).resolves.toBe(false);
    expect(plotly.newPlot).not.toHaveBeenCalled();
  });

  it('cleans up after a failed draw and reports it as not warmed', async () => {
    const { warmUpPlotly } = freshModule();
    const plotly = fakePlotly(true);
    await expect(warmUpPlotly(plotly as any)).resolves.toBe(false);
    expect(plotly.purge).toHaveBeenCalledTimes(1);
    expect(document.querySelector('[data-exprscope-warm-up]')).toBeNull();
  });
});
