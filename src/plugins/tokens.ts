/**
 * What the exprscope plugins share: the IExprscope token the core plugin provides, the
 * settings shape and the command ids.
 */
import { Token } from '@lumino/coreutils';

import type { BridgeManager } from '../bridge/bridgeManager';
import type { KernelBridge } from '../bridge/kernelBridge';
import type { IFetchDecoder } from '../data/fetchDecoding';
import type { ExpressionRepository } from '../data/repository';
import type { ExprscopeSession } from '../session/session';
import type { IPlotServices } from '../widget/services';

export namespace CommandIDs {
  export const openPanel = 'exprscope:open-panel';
  export const refresh = 'exprscope:refresh';
  export const searchGenes = 'exprscope:search-genes';
  export const openHeatmap = 'exprscope:open-heatmap';
  export const openDualExpression = 'exprscope:open-dual-expression';
}

/** Settings with their defaults in the core plugin; kept in sync with schema/plugin.json. */
export interface ISettings {
  requestTimeoutSeconds: number;
  cacheBudgetMegabytes: number;
  geneSuggestionLimit: number;
  refreshAfterExecution: boolean;
}

/** The bridge, data and session objects every exprscope plugin works with. */
export interface IExprscope {
  /** Bridges to the kernels, following the active notebook or console. */
  readonly manager: BridgeManager;
  /** One repository per kernel bridge, all sharing one expression cache. */
  readonly repositoryFor: (bridge: KernelBridge) => ExpressionRepository;
  /** The session the sidebar shows and the main-area views follow. */
  readonly session: ExprscopeSession;
  /** The current settings; read at use time so changes apply at once. */
  readonly settings: () => ISettings;
  /** What notebook plots (widget and saved outputs) are built with. */
  readonly plotServices: IPlotServices;
  /** The one decoder of `fetch` replies (a worker), shared by every repository. */
  readonly fetchDecoder: IFetchDecoder;
}

export const IExprscope = new Token<IExprscope>(
  'exprscope:IExprscope',
  'The exprscope kernel bridges, expression data, sidebar session and settings.'
);
