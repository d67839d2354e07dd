/**
 * The notebook widget created by `exprscope.heatmap(...)` / `exprscope.dual_expression(...)`
 * in Python. The model carries the plot specification (`spec`, docs/plot-spec.md) both ways:
 * the kernel sets it, the plot's controls write the user's changes back so the Python
 * object's `.spec` and `.data` follow.
 *
 * The Python object displays itself as an `application/vnd.exprscope.plot+json` output
 * naming this model (see renderer.ts), which shows the same live plot as this view; the view
 * serves widget containers (`VBox([plot])`) and `display(widget)` from other frontends.
 */
import {
  DOMWidgetModel,
  DOMWidgetView,
  IBackboneModelOptions
} from '@jupyter-widgets/base';
import { MessageLoop } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { PACKAGE_VERSION } from '../version';
import { createLivePlot, ILivePlot } from './livePlot';
import { LiveModelRegistry } from './registry';
import type { IPlotServices } from './services';

export const MODULE_NAME = 'exprscope';
export const MODULE_VERSION = PACKAGE_VERSION;

/** Every live plot model on the page, for the output renderer. */
export type LivePlotModels = LiveModelRegistry<ExprscopePlotModel>;

/**
 * The plot model. The widget manager constructs it from its class alone, so the notebook
 * plugin registers a subclass closed over its services and live-model registry
 * (createPlotModelClass); this base class has neither.
 */
export class ExprscopePlotModel extends DOMWidgetModel {
  defaults(): Backbone.ObjectHash {
    return {
      ...super.defaults(),
      _model_name: 'ExprscopePlotModel',
      _model_module: MODULE_NAME,
      _model_module_version: MODULE_VERSION,
      _view_name: 'ExprscopePlotView',
      _view_module: MODULE_NAME,
      _view_module_version: MODULE_VERSION,
      kind: '',
      spec: {}
    };
  }

  /**
   * Whether the kernel still holds this model. Models of a closed notebook or a dead kernel
   * can linger in memory; their outputs must show the saved copy.
   */
  get isLive(): boolean {
    const context = (this.widget_manager as any)?.context;
    return this.comm_live && !(context?.isDisposed ?? false);
  }

  initialize(
    attributes: Backbone.ObjectHash,
    options: IBackboneModelOptions
  ): void {
    super.initialize(attributes, options);
    const registry = this.liveModels;
    if (registry) {
      registry.add(this.model_id, this);
      this.once('destroy', () => registry.remove(this.model_id, this));
    }
  }

  /** What its plots are built with; given by the class createPlotModelClass returns. */
  get services(): IPlotServices {
    throw new Error('The exprscope extension is not activated.');
  }

  /**
   * The registry the output renderer finds this model in. A getter, not a field: Backbone
   * runs initialize inside the constructor, before a subclass's fields are set.
   */
  protected get liveModels(): LivePlotModels | null {
    return null;
  }
}

/**
 * The model class the notebook plugin registers with the widget manager: models built from
 * it register in `registry` and build their plots with `services`.
 */
export function createPlotModelClass(
  services: IPlotServices,
  registry: LivePlotModels
): typeof ExprscopePlotModel {
  return class extends ExprscopePlotModel {
    get services(): IPlotServices {
      return services;
    }

    protected get liveModels(): LivePlotModels {
      return registry;
    }
  };
}

export class ExprscopePlotView extends DOMWidgetView {
  render(): void {
    this.el.classList.add('jp-exprscope-widget-view');
    try {
      const model = this.model as ExprscopePlotModel;
      this._plot = createLivePlot({ model }, model.services);
    } catch (err) {
      this.el.textContent = `exprscope: ${(err as Error).message}`;
      return;
    }
    const widget = this._plot.widget;
    // The view's element is not in the document yet: attach by hand, as widget containers do.
    MessageLoop.sendMessage(widget, Widget.Msg.BeforeAttach);
    this.el.appendChild(widget.node);
    MessageLoop.sendMessage(widget, Widget.Msg.AfterAttach);
  }

  remove(): void {
    this._plot?.dispose();
    this._plot = null;
    super.remove();
  }

  private _plot: ILivePlot | null = null;
}
