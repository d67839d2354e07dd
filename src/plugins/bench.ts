/**
 * The bench plugin: hidden commands `make bench` measures the browser side with
 * (docs/performance.md); a plugin of its own so it can be disabled.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

import { registerBenchCommands } from '../bench/commands';
import { IExprscope } from './tokens';

export const benchPlugin: JupyterFrontEndPlugin<void> = {
  id: 'exprscope:bench',
  description: 'Hidden exprscope commands the browser benchmarks run.',
  autoStart: true,
  requires: [IExprscope],
  activate: (app: JupyterFrontEnd, exprscope: IExprscope) => {
    registerBenchCommands(app, {
      model: exprscope.session,
      fetchDecoder: exprscope.fetchDecoder
    });
  }
};
