/**
 * The sidebar plugin: the exprscope sidebar in the left area, restored with the layout, and
 * its commands.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';

import { ExprscopeSidebar } from '../panel/sidebar';
import { CommandIDs, IExprscope } from './tokens';

export const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'exprscope:sidebar',
  description: 'The exprscope sidebar: objects, genes, grouping and filters.',
  autoStart: true,
  requires: [IExprscope],
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    exprscope: IExprscope,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const { session: model } = exprscope;
    const sidebar = new ExprscopeSidebar({
      model,
      suggestionLimit: () => exprscope.settings().geneSuggestionLimit,
      // The views plugin adds these commands (if it is enabled).
      openHeatmap: () => void app.commands.execute(CommandIDs.openHeatmap),
      openDualExpression: () =>
        void app.commands.execute(CommandIDs.openDualExpression)
    });
    app.shell.add(sidebar, 'left', { rank: 650, type: 'exprscope' });
    restorer?.add(sidebar, 'exprscope-sidebar');

    app.commands.addCommand(CommandIDs.openPanel, {
      label: 'Open exprscope Panel',
      caption: 'Show the exprscope sidebar',
      execute: () => app.shell.activateById(sidebar.id)
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh exprscope Objects',
      caption: "List the active kernel's AnnData objects again",
      isEnabled: () => model.bridge !== null,
      execute: () => model.refresh()
    });
    app.commands.addCommand(CommandIDs.searchGenes, {
      label: 'Search Genes in exprscope',
      caption: 'Open the exprscope sidebar and focus its gene search',
      execute: () => {
        app.shell.activateById(sidebar.id);
        sidebar.focusGeneSearch();
      }
    });
    for (const command of [
      CommandIDs.openPanel,
      CommandIDs.refresh,
      CommandIDs.searchGenes
    ]) {
      palette?.addItem({ command, category: 'exprscope' });
    }
  }
};
