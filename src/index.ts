/**
 * exprscope's JupyterLab plugins: the core (bridges, data, settings; provides IExprscope),
 * the sidebar, the main-area views, notebook plots and the bench commands.
 */
import { benchPlugin } from './plugins/bench';
import { corePlugin } from './plugins/core';
import { notebookPlugin } from './plugins/notebook';
import { sidebarPlugin } from './plugins/sidebar';
import { viewsPlugin } from './plugins/views';

export { CommandIDs, IExprscope } from './plugins/tokens';

export default [
  corePlugin,
  sidebarPlugin,
  viewsPlugin,
  notebookPlugin,
  benchPlugin
];
