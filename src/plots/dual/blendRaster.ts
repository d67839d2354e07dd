/** The blend raster drawn as a picture: its PNG, its hover, its trace. */
import { encodePalettePng, Rgba, toBase64 } from '../../export/png';
import { escapeLabel } from '../heatmap/figure';
import type { PlotData } from '../plotly';
import { IPlotTheme } from '../theme';
import { binCentre } from './binning';
import { blendRgbs } from './blend';
import { EMPTY_PIXEL, IBlendRaster, IDualModel } from './model';

/**
 * The raster as a picture: an `image` trace showing a PNG of its pixels (each cell on top
 * in its blend colour, empty pixels transparent), which Plotly only places. As a heatmap,
 * Plotly coloured the ~160,000 pixels itself on every draw (~50 ms of the UI thread).
 * Hover per pixel: the levels (one shared string per code) and the cells (views of the
 * raster's counts, one per row), nothing built per pixel.
 */
export function blendRasterTrace(
  model: IDualModel,
  raster: IBlendRaster,
  L: number,
  theme: IPlotTheme
): PlotData {
  const { source, hovertext, customdata } = rasterDrawing(
    raster,
    L,
    theme,
    escapeLabel(model.geneX),
    escapeLabel(model.geneY)
  );
  return {
    type: 'image',
    name: 'cells',
    source,
    // Row 0 of the picture is the raster's lowest row: Plotly places row r at y0 + r · dy
    x0: binCentre(raster.x, 0),
    dx: raster.x.size,
    y0: binCentre(raster.y, 0),
    dy: raster.y.size,
    hovertext,
    customdata,
    hovertemplate:
      '%{customdata:,} cells in this pixel%{hovertext}<extra></extra>'
  } as unknown as PlotData;
}

interface IRasterDrawing {
  /** A data: URL of the PNG. */
  source: string;
  hovertext: string[][];
  customdata: Uint32Array[];
}

/**
 * The last drawing of each raster, by palette and gene labels. The same raster drawn again
 * (the kernel's correlations arrived, another theme's labels) gives the same arrays, which
 * Plotly then skips (shareUnchangedArrays finds them by reference).
 */
const rasterDrawings = new WeakMap<
  IBlendRaster,
  { key: string; drawing: IRasterDrawing }
>();

/** The raster's PNG (pixels in blend colours, empty pixels transparent) and hover arrays. */
export function rasterDrawing(
  raster: IBlendRaster,
  L: number,
  theme: IPlotTheme,
  geneX: string,
  geneY: string
): IRasterDrawing {
  const colors = blendRgbs(theme, L);
  const key = [colors.join(';'), geneX, geneY].join('\u0000');
  const known = rasterDrawings.get(raster);
  if (known?.key === key) {
    return known.drawing;
  }
  const palette: Rgba[] = Array.from({ length: 256 }, (_, index) =>
    index < colors.length ? [...colors[index], 255] : [0, 0, 0, 0]
  );
  const nx = raster.x.count;
  const png = encodePalettePng(nx, raster.y.count, raster.code, palette);
  const levelText = Array.from(
    { length: L * L },
    (_, code) =>
      `<br>${geneX} level ${code % L}, ${geneY} level ${Math.floor(code / L)} (cell on top)`
  );
  const hovertext: string[][] = [];
  const customdata: Uint32Array[] = [];
  for (let iy = 0; iy < raster.y.count; iy++) {
    const row: string[] = new Array(nx);
    for (let ix = 0; ix < nx; ix++) {
      const code = raster.code[iy * nx + ix];
      row[ix] = code === EMPTY_PIXEL ? '' : levelText[code];
    }
    hovertext.push(row);
    customdata.push(raster.count.subarray(iy * nx, (iy + 1) * nx));
  }
  const drawing = {
    source: `data:image/png;base64,${toBase64(png)}`,
    hovertext,
    customdata
  };
  rasterDrawings.set(raster, { key, drawing });
  return drawing;
}
