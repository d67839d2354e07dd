/**
 * The Plotly exprscope loads: plotly.js's core (which holds the scatter trace) and only
 * the other trace types the figure builders draw. The full `plotly.js-dist-min` bundle
 * cost ~0.8 s of one main-thread task to parse and run on a page's first plot; this
 * bundle is a fraction of its size (docs/performance.md).
 *
 * A trace type missing here draws nothing (Plotly warns in the console): add its module
 * when a figure starts using a new `type`.
 */
import Plotly from 'plotly.js/lib/core';
import heatmap from 'plotly.js/lib/heatmap';
import image from 'plotly.js/lib/image';
import scattergl from 'plotly.js/lib/scattergl';

// heatmap: the heatmaps and the dual view's density; scattergl: the dual view's points;
// image: the dual view's blend raster; scatter (in core): marks, dots and labels.
Plotly.register([heatmap, image, scattergl]);

export default Plotly;
