/**
 * Requested genes the matrix lacks travel with the heatmap (issue 19): its notes, its
 * figure (the picture exports and notebooks keep) and the saved notebook output.
 */
import {
  IPlotPayload,
  PLOT_MIME,
  readPayload,
  savePlot
} from '../../../widget/saved';
import { LIGHT_PLOT_THEME } from '../../theme';
import { heatmapFigure, missingGenesCaption } from '../figure';
import { buildHeatmapModel, IHeatmapInput } from '../model';

function input(genes: string[]): IHeatmapInput {
  return {
    genes,
    values: new Map([
      ['A', Float32Array.from([1, 2, 0, 4])],
      ['B', Float32Array.from([0, 3, 1, 2])]
    ]),
    dataset: { codes: Int32Array.from([0, 0, 1, 1]), categories: ['c', 's'] },
    cluster: { codes: Int32Array.from([0, 1, 0, 1]), categories: ['0', '1'] },
    matrix: 'X'
  };
}

describe('requested genes missing from the matrix', () => {
  it('are named in the notes and in a caption on the figure itself', () => {
    const model = buildHeatmapModel(input(['A', 'NOT_A_GENE', 'B']));
    expect(model.genes).toEqual(['A', 'B']);
    const caption = missingGenesCaption(model);
    expect(caption).toContain('NOT_A_GENE');
    expect(caption).toContain('not in X');
    const figure = heatmapFigure(model, { theme: LIGHT_PLOT_THEME });
    const texts = (figure.layout.annotations ?? []).map(a => a.text);
    expect(texts).toContain(caption);
    // Below the plot, inside the figure: the bottom margin holds the caption line
    const annotation = figure.layout.annotations!.find(
      a => a.text === caption
    ) as any;
    expect(annotation.y).toBeLessThan(0);
    const plain = heatmapFigure(buildHeatmapModel(input(['A', 'B'])), {
      theme: LIGHT_PLOT_THEME
    });
    expect((plain.layout.annotations ?? []).map(a => a.text)).not.toContain(
      caption
    );
    expect(figure.layout.margin!.b!).toBeGreaterThan(plain.layout.margin!.b!);
  });

  it('survive the saved notebook output: notes and figure', () => {
    const model = buildHeatmapModel(input(['A', 'NOT_A_GENE', 'B']));
    const figure = heatmapFigure(model, { theme: LIGHT_PLOT_THEME });
    const graph = document.createElement('div') as any;
    graph.data = figure.data;
    graph.layout = figure.layout;
    const saved = savePlot(
      graph,
      [],
      model.notes.map(n => n.message)
    );
    // Written into the notebook file as JSON, read back when it is reopened
    const output = JSON.parse(
      JSON.stringify({ [PLOT_MIME]: { spec: { kind: 'heatmap' }, saved } })
    );
    const payload = readPayload(output[PLOT_MIME]) as IPlotPayload;
    expect(payload.saved?.notes.join('\n')).toContain('NOT_A_GENE');
    const annotations = (payload.saved?.figure?.layout.annotations ?? []) as {
      text: string;
    }[];
    expect(annotations.map(a => a.text).join('\n')).toContain('NOT_A_GENE');
  });
});
