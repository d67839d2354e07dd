/**
 * The views plugin: the heatmap and dual-expression views in the main area, driven by the
 * sidebar's session, and their commands.
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, IThemeManager } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { reproduceCode, reproduceLanguage } from '../export/reproduce';
import { DualController } from '../plots/dual/controller';
import { DualExpressionWidget } from '../plots/dual/widget';
import { HeatmapController } from '../plots/heatmap/controller';
import { HeatmapWidget } from '../plots/heatmap/widget';
import { loadPlotlyWhenIdle } from '../plots/plotly';
import type { IPlotSpec } from '../plots/spec';
import {
  createConservedWorkerBuilder,
  createDualWorkerBuilder,
  createHeatmapWorkerBuilder
} from '../plots/workers';
import { CommandIDs, IExprscope } from './tokens';

export const viewsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'exprscope:views',
  description:
    'The exprscope heatmap and dual-expression views in the main area.',
  autoStart: true,
  requires: [IExprscope],
  optional: [ICommandPalette, ILabShell, INotebookTracker, IThemeManager],
  activate: (
    app: JupyterFrontEnd,
    exprscope: IExprscope,
    palette: ICommandPalette | null,
    labShell: ILabShell | null,
    notebooks: INotebookTracker | null,
    themes: IThemeManager | null
  ) => {
    const { session: model } = exprscope;

    // Plotly is loaded once an object is picked in the sidebar (a plot is then near), when
    // the page is idle: off the first plot's critical path, and never for sessions that
    // only open JupyterLab.
    const preloadPlotly = () => {
      if (model.description) {
        model.changed.disconnect(preloadPlotly);
        loadPlotlyWhenIdle();
      }
    };
    model.changed.connect(preloadPlotly);

    // "Insert into notebook": a cell below the active cell of the notebook the sidebar
    // follows (its kernel is the one holding the plotted object).
    const insertCell = (spec: IPlotSpec) => {
      const bridge = model.bridge;
      const language = reproduceLanguage(bridge?.language ?? 'python');
      if (!language) {
        throw new Error(
          `No reproducing code for ${bridge?.language} kernels: exprscope writes Python and R.`
        );
      }
      const code = reproduceCode(spec, language);
      const context = bridge?.sessionContext;
      const panel =
        notebooks?.find(p => p.sessionContext === context) ??
        notebooks?.currentWidget ??
        null;
      if (!panel) {
        throw new Error('Open the notebook to insert the cell into first.');
      }
      NotebookActions.insertBelow(panel.content);
      // The notebook's default new cell may be Markdown.
      NotebookActions.changeCellType(panel.content, 'code');
      const cell = panel.content.activeCell;
      if (!cell || cell.model.type !== 'code') {
        throw new Error('Could not insert a code cell.');
      }
      cell.model.sharedModel.setSource(code);
      app.shell.activateById(panel.id);
    };
    // One heatmap and one dual-expression view in the main area, driven by the sidebar:
    // opening one again shows the existing view.
    const singleView = (create: () => Widget) => {
      let view: Widget | null = null;
      return () => {
        if (!view || view.isDisposed) {
          const created = create();
          // A closed view must not stay reachable from here (it holds its data).
          created.disposed.connect(() => {
            if (view === created) {
              view = null;
            }
          });
          view = created;
          // A tab beside the current document, as JupyterLab opens its own: a split would
          // leave the view a narrow strip; users split by dragging the tab.
          app.shell.add(view, 'main', {
            mode: 'tab-after',
            ref: labShell?.currentWidget?.id ?? null
          });
        }
        app.shell.activateById(view.id);
      };
    };
    const openHeatmap = singleView(() => {
      const controller = new HeatmapController(model, {
        buildInWorker: createHeatmapWorkerBuilder(),
        conservedInWorker: createConservedWorkerBuilder()
      });
      void controller.refresh();
      return new HeatmapWidget({
        controller,
        themeChanged: themes?.themeChanged,
        insertCell
      });
    });
    const openDual = singleView(() => {
      const controller = new DualController(model, {
        buildInWorker: createDualWorkerBuilder()
      });
      void controller.refresh();
      return new DualExpressionWidget({
        controller,
        themeChanged: themes?.themeChanged,
        insertCell
      });
    });

    app.commands.addCommand(CommandIDs.openHeatmap, {
      label: 'Open exprscope Heatmap',
      caption:
        'Heatmap of the chosen genes (or top markers) across datasets and clusters',
      isEnabled: () => model.description !== null,
      execute: openHeatmap
    });
    app.commands.addCommand(CommandIDs.openDualExpression, {
      label: 'Open exprscope Dual Expression',
      caption:
        'Gene vs gene per cell, with the correlation per dataset and cluster',
      isEnabled: () => model.description !== null,
      execute: openDual
    });
    for (const command of [
      CommandIDs.openHeatmap,
      CommandIDs.openDualExpression
    ]) {
      palette?.addItem({ command, category: 'exprscope' });
    }
  }
};
