/**
 * The renderer of exprscope plot outputs (`application/vnd.exprscope.plot+json`).
 *
 * - The output's widget model is live (the cell just ran, or the kernel still holds it):
 *   the live plot, and after each draw its saved copy and an `image/png` picture are
 *   written back into the output, so the saved notebook keeps them.
 * - It is not (reopened without the kernel, another machine): the saved copy, interactive
 *   from the saved figure; it turns live if the model shows up.
 * - Neither: a message saying to run the cell. Never "model not found".
 *
 * The renderer is safe (it runs no code from the output), so untrusted notebooks show
 * their plots too. Where exprscope is absent, the `image/png` beside the JSON is shown.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import type { Message } from '@lumino/messaging';
import { PanelLayout, Widget } from '@lumino/widgets';

import { loadPlotly } from '../plots/plotly';
import { createLivePlot, ILivePlot } from './livePlot';
import type { LivePlotModels } from './plotModel';
import { IPlotPayload, PLOT_MIME, readPayload, savePlot } from './saved';
import { SavedPlotWidget } from './savedPlotWidget';
import type { IPlotServices } from './services';

/** How long a fresh output waits for its model (created from the kernel's comm_open). */
const LIVE_WAIT_MS = 5000;
/** Quiet time after a draw before the saved copy is written (dragging a slider redraws often). */
const WRITE_BACK_DELAY_MS = 800;

export class ExprscopePlotRenderer
  extends Widget
  implements IRenderMime.IRenderer
{
  constructor(services: IPlotServices, liveModels: LivePlotModels) {
    super();
    this._services = services;
    this._liveModels = liveModels;
    this.layout = new PanelLayout();
    this.addClass('jp-exprscope-output');
  }

  async renderModel(mimeModel: IRenderMime.IMimeModel): Promise<void> {
    this._mimeModel = mimeModel;
    const payload = readPayload(mimeModel.data[PLOT_MIME]);
    if (!payload) {
      this._showMessage(
        'This exprscope output is damaged (no plot specification).'
      );
      return;
    }
    this._payload = payload;
    const key = payload.model_id ?? '';
    if (this._shownKey === key && this._child) {
      // Our own write-back, or the same output rendered again: keep the plot as it is.
      return;
    }
    this._shownKey = key;
    const found = payload.model_id
      ? await this._liveModels.whenAvailable(
          payload.model_id,
          payload.saved ? 0 : LIVE_WAIT_MS
        )
      : null;
    const live = found?.isLive ? found : null;
    if (this.isDisposed || this._payload !== payload) {
      return;
    }
    if (live) {
      this._showLive({ model: live });
    } else if (!payload.model_id && !payload.saved) {
      // A plot from R (no widget models there): live on the kernel of this output's
      // notebook, which is known once the output is in the page.
      await this._whenAttached;
      const panel = this._services.notebooks?.find(p =>
        p.node.contains(this.node)
      );
      if (this.isDisposed || this._payload !== payload) {
        return;
      }
      if (panel) {
        this._showLive({ spec: payload.spec, context: panel.sessionContext });
      } else {
        this._showMessage(
          'exprscope plots draw in notebooks: open this output in its notebook.'
        );
      }
    } else if (payload.saved) {
      this._showSaved(payload);
      this._awaitLive(payload.model_id);
    } else {
      this._showMessage(
        'This plot was not saved with the notebook and its kernel no longer holds it: run the cell again.'
      );
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    clearTimeout(this._writeTimer);
    this._liveModels.added.disconnect(this._onModelAdded, this);
    this._live?.dispose();
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._attached();
  }

  private _showLive(source: Parameters<typeof createLivePlot>[0]): void {
    let live: ILivePlot;
    try {
      live = createLivePlot(source, this._services);
    } catch (err) {
      if (this._payload?.saved) {
        this._showSaved(this._payload);
      } else {
        this._showMessage(`exprscope: ${(err as Error).message}`);
      }
      return;
    }
    this._setChild(live.widget);
    this._live = live;
    live.widget.rendered.connect(this._scheduleWriteBack, this);
  }

  private _showSaved(payload: IPlotPayload): void {
    const png = this._mimeModel?.data['image/png'];
    this._setChild(
      new SavedPlotWidget({
        payload,
        png: typeof png === 'string' ? png : null,
        themeChanged: this._services.themeChanged
      })
    );
  }

  /** A saved plot whose model comes back (notebook reopened, kernel still running). */
  private _awaitLive(modelId: string | undefined): void {
    if (modelId) {
      this._awaitedId = modelId;
      this._liveModels.added.connect(this._onModelAdded, this);
    }
  }

  private _onModelAdded(_: unknown, id: string): void {
    if (id !== this._awaitedId) {
      return;
    }
    this._liveModels.added.disconnect(this._onModelAdded, this);
    const model = this._liveModels.get(id);
    if (model?.isLive) {
      this._showLive({ model });
    }
  }

  private _showMessage(text: string): void {
    const node = document.createElement('div');
    node.className = 'jp-exprscope-output-message';
    node.textContent = text;
    this._setChild(new Widget({ node }));
  }

  private _setChild(child: Widget): void {
    if (this._live && this._live.widget !== child) {
      this._live.widget.rendered.disconnect(this._scheduleWriteBack, this);
      this._live.dispose();
      this._live = null;
    }
    this._child?.dispose();
    this._child = child;
    (this.layout as PanelLayout).addWidget(child);
  }

  private _scheduleWriteBack(): void {
    clearTimeout(this._writeTimer);
    this._writeTimer = window.setTimeout(
      () => void this._writeBack(),
      WRITE_BACK_DELAY_MS
    );
  }

  /** Keep the plot in the notebook: its saved copy and a picture for other viewers. */
  private async _writeBack(): Promise<void> {
    const live = this._live;
    const mimeModel = this._mimeModel;
    const payload = this._payload;
    const graph = live?.widget.graph;
    if (!live || !mimeModel || !payload || !graph || !graph.isConnected) {
      return;
    }
    try {
      const controller = live.widget.controller;
      const saved = savePlot(graph, controller.tables(), controller.notes());
      const Plotly = await loadPlotly();
      const url = await Plotly.toImage(graph, {
        format: 'png',
        width: saved.width,
        height: saved.height
      });
      if (this._live !== live || this.isDisposed) {
        return;
      }
      const next: IPlotPayload = {
        ...payload,
        spec: controller.spec() ?? payload.spec,
        saved
      };
      this._payload = next;
      mimeModel.setData({
        data: {
          ...mimeModel.data,
          'image/png': url.slice(url.indexOf(',') + 1),
          [PLOT_MIME]: next as any
        }
      });
    } catch (err) {
      console.warn('exprscope: could not save the plot into the notebook', err);
    }
  }

  private readonly _services: IPlotServices;
  private readonly _liveModels: LivePlotModels;
  private _mimeModel: IRenderMime.IMimeModel | null = null;
  private _payload: IPlotPayload | null = null;
  private _shownKey: string | null = null;
  private _child: Widget | null = null;
  private _live: ILivePlot | null = null;
  private _awaitedId: string | null = null;
  private _writeTimer = 0;
  private _attached: () => void = () => undefined;
  private readonly _whenAttached = new Promise<void>(
    resolve => (this._attached = resolve)
  );
}

/** The rendermime factory, registered by the plugin. */
export function plotRendererFactory(
  services: IPlotServices,
  liveModels: LivePlotModels
): IRenderMime.IRendererFactory {
  return {
    safe: true,
    mimeTypes: [PLOT_MIME],
    defaultRank: 0,
    createRenderer: () => new ExprscopePlotRenderer(services, liveModels)
  };
}
