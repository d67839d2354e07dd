/**
 * exprscope JupyterLab plugin: wires the kernel bridge, the data layer and the sidebar into
 * the application (commands, settings, layout restoration).
 */
import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IJupyterWidgetRegistry } from '@jupyter-widgets/base';
import { ICommandPalette, IThemeManager } from '@jupyterlab/apputils';
import { IConsoleTracker } from '@jupyterlab/console';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Widget } from '@lumino/widgets';

import { registerBenchCommands } from './bench/commands';
import { BridgeManager } from './bridge/bridgeManager';
import { KernelBridge } from './bridge/kernelBridge';
import { ExpressionCache } from './data/cache';
import { ExpressionRepository } from './data/repository';
import { createFetchDecoder } from './data/workers';
import { reproduceCode, reproduceLanguage } from './export/reproduce';
import { ExprscopePanelModel } from './panel/model';
import { ExprscopeSidebar } from './panel/sidebar';
import { DualController } from './plots/dual/controller';
import { DualExpressionWidget } from './plots/dual/widget';
import {
  createConservedWorkerBuilder,
  createDualWorkerBuilder,
  createHeatmapWorkerBuilder
} from './plots/workers';
import { HeatmapController } from './plots/heatmap/controller';
import { HeatmapWidget } from './plots/heatmap/widget';
import type { IPlotSpec } from './plots/spec';
import {
  ExprscopePlotModel,
  ExprscopePlotView,
  MODULE_NAME,
  MODULE_VERSION
} from './widget/plotModel';
import { plotRendererFactory } from './widget/renderer';
import { IPlotServices, setPlotServices } from './widget/services';

const PLUGIN_ID = 'exprscope:plugin';

export namespace CommandIDs {
  export const openPanel = 'exprscope:open-panel';
  export const refresh = 'exprscope:refresh';
  export const searchGenes = 'exprscope:search-genes';
  export const openHeatmap = 'exprscope:open-heatmap';
  export const openDualExpression = 'exprscope:open-dual-expression';
}

/** Settings with their defaults; kept in sync with schema/plugin.json. */
interface ISettings {
  requestTimeoutSeconds: number;
  cacheBudgetMegabytes: number;
  geneSuggestionLimit: number;
  refreshAfterExecution: boolean;
}

const DEFAULT_SETTINGS: ISettings = {
  requestTimeoutSeconds: 60,
  cacheBudgetMegabytes: 512,
  geneSuggestionLimit: 30,
  refreshAfterExecution: true
};

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Compare gene expression across datasets and clusters of single-cell data.',
  autoStart: true,
  optional: [
    ISettingRegistry,
    ICommandPalette,
    ILayoutRestorer,
    ILabShell,
    INotebookTracker,
    IConsoleTracker,
    IThemeManager,
    IRenderMimeRegistry,
    IJupyterWidgetRegistry
  ],
  activate: (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    labShell: ILabShell | null,
    notebooks: INotebookTracker | null,
    consoles: IConsoleTracker | null,
    themes: IThemeManager | null,
    rendermime: IRenderMimeRegistry | null,
    widgetRegistry: IJupyterWidgetRegistry | null
  ) => {
    let settings: ISettings = { ...DEFAULT_SETTINGS };

    const cache = new ExpressionCache({
      budgetBytes: settings.cacheBudgetMegabytes * 1024 * 1024
    });
    const manager = new BridgeManager({
      requestTimeoutMs: () => settings.requestTimeoutSeconds * 1000,
      // One worker decodes every kernel's replies (started on the first fetch)
      fetchDecoder: createFetchDecoder()
    });
    const repositories = new WeakMap<KernelBridge, ExpressionRepository>();
    const repositoryFor = (bridge: KernelBridge): ExpressionRepository => {
      let repository = repositories.get(bridge);
      if (!repository) {
        repository = new ExpressionRepository(bridge, cache);
        repositories.set(bridge, repository);
      }
      return repository;
    };

    const model = new ExprscopePanelModel({
      manager,
      repositoryFor,
      settings: () => settings
    });

    // Hidden commands `make bench` measures the browser side with (docs/performance.md).
    registerBenchCommands(app, { model });

    // Plots made from Python in notebooks: the widget model/view and the output renderer.
    const services: IPlotServices = {
      bridges: manager,
      repositoryFor,
      settings: () => settings,
      themeChanged: themes?.themeChanged,
      notebooks,
      createDualBuilder: createDualWorkerBuilder,
      createHeatmapBuilder: createHeatmapWorkerBuilder,
      createConservedBuilder: createConservedWorkerBuilder
    };
    setPlotServices(services);
    widgetRegistry?.registerWidget({
      name: MODULE_NAME,
      version: MODULE_VERSION,
      exports: { ExprscopePlotModel, ExprscopePlotView }
    });
    rendermime?.addFactory(plotRendererFactory(services), 0);

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
    const sidebar = new ExprscopeSidebar({
      model,
      suggestionLimit: () => settings.geneSuggestionLimit,
      openHeatmap: () => void app.commands.execute(CommandIDs.openHeatmap),
      openDualExpression: () =>
        void app.commands.execute(CommandIDs.openDualExpression)
    });
    app.shell.add(sidebar, 'left', { rank: 650, type: 'exprscope' });
    restorer?.add(sidebar, 'exprscope-sidebar');

    // Follow the kernel of whichever notebook or console the user is working in.
    const follow = (widget: unknown) => manager.activate(widget);
    if (labShell) {
      labShell.currentChanged.connect((_, change) => follow(change.newValue));
    }
    notebooks?.currentChanged.connect((_, widget) => follow(widget));
    consoles?.currentChanged.connect((_, widget) => follow(widget));
    app.restored.then(() =>
      follow(notebooks?.currentWidget ?? consoles?.currentWidget ?? null)
    );

    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(loaded => {
          const update = () => {
            settings = {
              ...DEFAULT_SETTINGS,
              ...(loaded.composite as Partial<ISettings>)
            };
            cache.budgetBytes = settings.cacheBudgetMegabytes * 1024 * 1024;
          };
          update();
          loaded.changed.connect(update);
        })
        .catch(reason => {
          console.error(
            'exprscope: failed to load settings, using defaults.',
            reason
          );
        });
    }

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
    for (const command of Object.values(CommandIDs)) {
      palette?.addItem({ command, category: 'exprscope' });
    }
  }
};

export default plugin;
