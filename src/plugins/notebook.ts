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
  ExprscopePlotModel,
  ExprscopePlotView,
  MODULE_NAME,
  MODULE_VERSION
} from '../widget/plotModel';
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
    widgetRegistry?.registerWidget({
      name: MODULE_NAME,
      version: MODULE_VERSION,
      exports: { ExprscopePlotModel, ExprscopePlotView }
    });
    rendermime?.addFactory(plotRendererFactory(exprscope.plotServices), 0);
  }
};
