/**
 * The core plugin: the kernel bridges, the data layer, the session and the settings,
 * provided to the other exprscope plugins as IExprscope.
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IThemeManager } from '@jupyterlab/apputils';
import { IConsoleTracker } from '@jupyterlab/console';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { BridgeManager } from '../bridge/bridgeManager';
import { KernelBridge } from '../bridge/kernelBridge';
import { ExpressionCache } from '../data/cache';
import { ExpressionRepository } from '../data/repository';
import { createFetchDecoder } from '../data/workers';
import { ExprscopeSession } from '../session/session';
import {
  createConservedWorkerBuilder,
  createDualWorkerBuilder,
  createHeatmapWorkerBuilder
} from '../plots/workers';
import type { IPlotServices } from '../widget/services';
import { IExprscope, ISettings } from './tokens';

// schema/plugin.json binds the settings to this id.
const PLUGIN_ID = 'exprscope:plugin';

const DEFAULT_SETTINGS: ISettings = {
  requestTimeoutSeconds: 60,
  cacheBudgetMegabytes: 512,
  geneSuggestionLimit: 30,
  refreshAfterExecution: true
};

export const corePlugin: JupyterFrontEndPlugin<IExprscope> = {
  id: PLUGIN_ID,
  description:
    'Compare gene expression across datasets and clusters of single-cell data.',
  autoStart: true,
  provides: IExprscope,
  optional: [
    ISettingRegistry,
    ILabShell,
    INotebookTracker,
    IConsoleTracker,
    IThemeManager
  ],
  activate: (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry | null,
    labShell: ILabShell | null,
    notebooks: INotebookTracker | null,
    consoles: IConsoleTracker | null,
    themes: IThemeManager | null
  ): IExprscope => {
    let settings: ISettings = { ...DEFAULT_SETTINGS };
    const currentSettings = () => settings;

    const cache = new ExpressionCache({
      budgetBytes: settings.cacheBudgetMegabytes * 1024 * 1024
    });
    const manager = new BridgeManager({
      requestTimeoutMs: () => settings.requestTimeoutSeconds * 1000
    });
    // One worker decodes every kernel's replies (started on the first fetch)
    const fetchDecoder = createFetchDecoder();
    const repositories = new WeakMap<KernelBridge, ExpressionRepository>();
    const repositoryFor = (bridge: KernelBridge): ExpressionRepository => {
      let repository = repositories.get(bridge);
      if (!repository) {
        repository = new ExpressionRepository(bridge, cache, fetchDecoder);
        repositories.set(bridge, repository);
      }
      return repository;
    };

    const session = new ExprscopeSession({
      manager,
      repositoryFor,
      settings: currentSettings
    });

    // Plots made from Python in notebooks build with these (the notebook plugin registers them).
    const plotServices: IPlotServices = {
      bridges: manager,
      repositoryFor,
      settings: currentSettings,
      themeChanged: themes?.themeChanged,
      notebooks,
      createDualBuilder: createDualWorkerBuilder,
      createHeatmapBuilder: createHeatmapWorkerBuilder,
      createConservedBuilder: createConservedWorkerBuilder
    };

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

    return {
      manager,
      repositoryFor,
      session,
      settings: currentSettings,
      plotServices,
      fetchDecoder
    };
  }
};
