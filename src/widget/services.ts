/**
 * What the notebook plots need from the running extension. The widget manager creates
 * models and views itself (it only knows their classes): the notebook plugin closes the
 * model class over these (createPlotModelClass) and hands them to the output renderer.
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
