/**
 * A live plot for a notebook widget model: the same heatmap or dual-expression view as the
 * main area, on the kernel of the notebook that made it, with the model's spec applied and
 * the user's changes written back to the model.
 */
import type { ISessionContext } from '@jupyterlab/apputils';
import { JSONExt } from '@lumino/coreutils';

import { ExprscopeSession } from '../session/session';
import { DualController } from '../plots/dual/controller';
import { DualExpressionWidget } from '../plots/dual/widget';
import { HeatmapController } from '../plots/heatmap/controller';
import { HeatmapWidget } from '../plots/heatmap/widget';
import type { PlotWidget, IPlotController } from '../plots/PlotWidget';
import { selectionFromSpec } from '../plots/plotContext';
import { IPlotSpec, parseSpec } from '../plots/spec';
import type { ExprscopePlotModel } from './plotModel';
import type { IPlotServices } from './services';

export interface ILivePlot {
  readonly widget: PlotWidget<IPlotController>;
  dispose(): void;
}

/**
 * The live plot of a widget model (Python), or of a bare spec on a notebook's kernel
 * (R, which has no widget models: `context` is then the output's notebook session).
 */
export function createLivePlot(
  source:
    { model: ExprscopePlotModel } | { spec: unknown; context: ISessionContext },
  services: IPlotServices
): ILivePlot {
  const model = 'model' in source ? source.model : null;
  const spec = parseSpec(model ? model.get('spec') : (source as any).spec);
  const context = model
    ? sessionContextOf(model, services)
    : (source as { context: ISessionContext }).context;
  if (!context) {
    throw new Error(
      'this plot belongs to a kernel that no open notebook runs; re-run its cell.'
    );
  }
  const bridge = services.bridges.bridgeFor(context);
  const panel = new ExprscopeSession({
    pinned: { bridge, selection: selectionFromSpec(spec) },
    repositoryFor: services.repositoryFor,
    settings: services.settings
  });
  const options = { themeChanged: services.themeChanged, embedded: true };
  let widget: PlotWidget<IPlotController>;
  if (spec.kind === 'heatmap') {
    const controller = new HeatmapController(panel, {
      buildInWorker: services.createHeatmapBuilder(),
      conservedInWorker: services.createConservedBuilder?.()
    });
    controller.applySpec(spec);
    widget = new HeatmapWidget({ controller, ...options });
  } else {
    const controller = new DualController(panel, {
      buildInWorker: services.createDualBuilder()
    });
    controller.applySpec(spec);
    widget = new DualExpressionWidget({ controller, ...options });
  }
  const controller = widget.controller;

  // The user's changes go to the kernel's object (`.spec`, `.data`), and specs set from
  // Python come to the plot; comparing first keeps the two from echoing each other.
  const pushSpec = () => {
    const current = controller.spec();
    if (
      model &&
      current &&
      !JSONExt.deepEqual(current as any, model.get('spec'))
    ) {
      model.set('spec', current);
      model.save_changes();
    }
  };
  const pullSpec = () => {
    let incoming: IPlotSpec;
    try {
      incoming = parseSpec(model!.get('spec'));
    } catch (err) {
      console.warn('exprscope: ignoring an invalid spec from the kernel', err);
      return;
    }
    const current = controller.spec();
    if (!current || !JSONExt.deepEqual(current as any, incoming as any)) {
      controller.applySpec(incoming);
    }
  };
  if (model) {
    controller.changed.connect(pushSpec);
    model.on('change:spec', pullSpec);
  }

  let disposed = false;
  return {
    widget,
    dispose: () => {
      if (disposed) {
        return;
      }
      disposed = true;
      model?.off('change:spec', pullSpec);
      controller.changed.disconnect(pushSpec);
      widget.dispose();
      panel.dispose();
    }
  };
}

/** The session of the notebook whose kernel holds the model. */
function sessionContextOf(
  model: ExprscopePlotModel,
  services: IPlotServices
): ISessionContext | null {
  // jupyterlab-manager's notebook manager knows its document context; other managers only
  // their kernel, which an open notebook runs.
  const manager = model.widget_manager as any;
  const direct = manager?.context?.sessionContext as
    ISessionContext | undefined;
  if (direct) {
    return direct;
  }
  const kernelId: string | undefined = manager?.kernel?.id;
  if (!kernelId || !services.notebooks) {
    return null;
  }
  const panel = services.notebooks.find(
    p => p.sessionContext.session?.kernel?.id === kernelId
  );
  return panel?.sessionContext ?? null;
}
