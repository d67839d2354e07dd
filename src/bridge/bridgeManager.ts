import type { ISessionContext } from '@jupyterlab/apputils';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { KernelBridge } from './kernelBridge';

export interface IBridgeManagerOptions {
  /** Default request timeout for every bridge, read at each request. */
  requestTimeoutMs?: () => number;
}

/**
 * One KernelBridge per session context (notebook or console; several views
 * of one notebook share it), disposed with the context, plus the bridge of
 * the widget the user works in.
 *
 * When focus moves to a widget without a kernel (a plot, the file browser,
 * a text editor), the last active bridge stays active, as in
 * jupyterlab-variableInspector: the sidebar keeps showing the data the user
 * was looking at instead of blanking out. It only becomes null when that
 * bridge's notebook or console closes.
 */
export class BridgeManager implements IDisposable {
  constructor(options: IBridgeManagerOptions = {}) {
    this._requestTimeoutMs = options.requestTimeoutMs;
  }

  /** The bridge of the most recently focused notebook or console. */
  get active(): KernelBridge | null {
    return this._active;
  }

  get activeChanged(): ISignal<this, KernelBridge | null> {
    return this._activeChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * Follow the focused widget (from `labShell.currentChanged` or a tracker's
   * `currentChanged`). Widgets without a session context are ignored.
   */
  activate(widget: unknown): void {
    const context = sessionContextOf(widget);
    if (this._isDisposed || !context || context.isDisposed) {
      return;
    }
    this._setActive(this.bridgeFor(context));
  }

  /** The bridge of a session context, created on first use. */
  bridgeFor(context: ISessionContext): KernelBridge {
    let bridge = this._bridges.get(context);
    if (!bridge) {
      bridge = new KernelBridge({
        sessionContext: context,
        requestTimeoutMs: this._requestTimeoutMs
      });
      this._bridges.set(context, bridge);
      context.disposed.connect(this._onContextDisposed, this);
    }
    return bridge;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._bridges.forEach(bridge => bridge.dispose());
    this._bridges.clear();
    this._active = null;
    Signal.clearData(this);
  }

  private _onContextDisposed(context: ISessionContext): void {
    const bridge = this._bridges.get(context);
    if (!bridge) {
      return;
    }
    this._bridges.delete(context);
    if (this._active === bridge) {
      this._setActive(null);
    }
    bridge.dispose();
  }

  private _setActive(bridge: KernelBridge | null): void {
    if (bridge === this._active) {
      return;
    }
    this._active = bridge;
    this._activeChanged.emit(bridge);
  }

  private _requestTimeoutMs: (() => number) | undefined;
  private _bridges = new Map<ISessionContext, KernelBridge>();
  private _active: KernelBridge | null = null;
  private _isDisposed = false;
  private _activeChanged = new Signal<this, KernelBridge | null>(this);
}

/** The session context of a notebook panel, console panel or similar. */
function sessionContextOf(widget: unknown): ISessionContext | null {
  if (typeof widget !== 'object' || widget === null) {
    return null;
  }
  const context = (widget as { sessionContext?: unknown }).sessionContext;
  const looksLikeContext =
    typeof context === 'object' &&
    context !== null &&
    'kernelChanged' in context &&
    'statusChanged' in context &&
    'iopubMessage' in context;
  return looksLikeContext ? (context as ISessionContext) : null;
}
