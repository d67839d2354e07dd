/**
 * The notebook plugin: plots made from Python in notebooks, as a Jupyter widget and as the
 * renderer of their saved outputs.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IJupyterWidgetRegistry } from '@jupyter-widgets/base';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';

import {
  createPlotModelClass,
  ExprscopePlotModel,
  ExprscopePlotView,
  MODULE_NAME,
  MODULE_VERSION
} from '../widget/plotModel';
import { LiveModelRegistry } from '../widget/registry';
import { plotRendererFactory } from '../widget/renderer';
import { IExprscope } from './tokens';

export const notebookPlugin: JupyterFrontEndPlugin<void> = {
  id: 'exprscope:notebook',
  description:
    'exprscope plots in notebooks: the widget and the renderer of saved plot outputs.',
  autoStart: true,
  requires: [IExprscope],
  optional: [IRenderMimeRegistry, IJupyterWidgetRegistry],
  activate: (
    app: JupyterFrontEnd,
    exprscope: IExprscope,
    rendermime: IRenderMimeRegistry | null,
    widgetRegistry: IJupyterWidgetRegistry | null
  ) => {
    // The live plot models on this page: the widget's models register here, the output
    // renderer finds them here.
    const liveModels = new LiveModelRegistry<ExprscopePlotModel>();
    const { plotServices } = exprscope;
    widgetRegistry?.registerWidget({
      name: MODULE_NAME,
      version: MODULE_VERSION,
      exports: {
        ExprscopePlotModel: createPlotModelClass(plotServices, liveModels),
        ExprscopePlotView
      }
    });
    rendermime?.addFactory(plotRendererFactory(plotServices, liveModels), 0);
  }
};
