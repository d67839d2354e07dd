/**
 * The live notebook-widget models of this page, by model id. A plot output names its model
 * by id; the output's renderer looks the model up here instead of through the widget
 * manager, so an output whose model is gone (notebook reopened without its kernel) renders
 * its saved copy rather than an error.
 */
import { ISignal, Signal } from '@lumino/signaling';

export class LiveModelRegistry<M> {
  /** Emits the id of every model added. */
  get added(): ISignal<this, string> {
    return this._added;
  }

  add(id: string, model: M): void {
    this._models.set(id, model);
    this._added.emit(id);
  }

  remove(id: string, model: M): void {
    if (this._models.get(id) === model) {
      this._models.delete(id);
    }
  }

  get(id: string): M | null {
    return this._models.get(id) ?? null;
  }

  /**
   * The model with this id once it exists, or null after `timeoutMs`. The widget manager
   * creates models asynchronously from the kernel's comm_open, which may still be on its
   * way when the output that displays the model arrives.
   */
  whenAvailable(id: string, timeoutMs: number): Promise<M | null> {
    const present = this.get(id);
    if (present || timeoutMs <= 0) {
      return Promise.resolve(present);
    }
    return new Promise(resolve => {
      const onAdded = (_: this, added: string) => {
        if (added === id) {
          done(this.get(id));
        }
      };
      const timer = setTimeout(() => done(null), timeoutMs);
      const done = (model: M | null) => {
        clearTimeout(timer);
        this._added.disconnect(onAdded);
        resolve(model);
      };
      this._added.connect(onAdded);
    });
  }

  private readonly _models = new Map<string, M>();
  private readonly _added = new Signal<this, string>(this);
}
