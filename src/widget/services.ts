/**
 * What the notebook plots need from the running extension. The widget manager creates
 * models and views itself (it only knows their classes), so the plugin hands these over
 * once, at activation.
 */
import type { INotebookTracker } from '@jupyterlab/notebook';
import type { ISignal } from '@lumino/signaling';

import type { BridgeManager } from '../bridge/bridgeManager';
import type { KernelBridge } from '../bridge/kernelBridge';
import type { ExpressionRepository } from '../data/repository';
import type { IDualModelBuilder } from '../plots/dual/workerProtocol';
import type { IConservedBuilder } from '../plots/heatmap/conservedController';
import type { IHeatmapModelBuilder } from '../plots/heatmap/workerProtocol';

export interface IPlotServices {
  bridges: BridgeManager;
  repositoryFor: (bridge: KernelBridge) => ExpressionRepository;
  settings: () => { refreshAfterExecution: boolean };
  themeChanged?: ISignal<any, any>;
  notebooks: INotebookTracker | null;
  createDualBuilder: () => IDualModelBuilder;
  createHeatmapBuilder: () => IHeatmapModelBuilder;
  createConservedBuilder?: () => IConservedBuilder;
}

let services: IPlotServices | null = null;

export function setPlotServices(value: IPlotServices): void {
  services = value;
}

export function plotServices(): IPlotServices {
  if (!services) {
    throw new Error('The exprscope extension is not activated.');
  }
  return services;
}
