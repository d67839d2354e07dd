// Over 600 lines: the session's state (object, describe, selection, messages) and the requests that change it; a split would pass that state around.
/**
 * The exprscope session: the active object, its description, the user's selection and the
 * requests to the kernel for it. The sidebar shows it, the main-area views and notebook
 * plots build from it; it knows nothing of them (src/session sits below plots and UI).
 *
 * The session follows the active kernel (through the BridgeManager) and keeps one selection per
 * kernel bridge, so switching between notebooks, a failed request or a kernel restart never
 * loses what the user picked. All kernel traffic goes through the bridge and the expression
 * repository; the model only decides what to ask for and what to tell the user.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { BridgeManager } from '../bridge/bridgeManager';
import type { IRequestOptions, IResponse } from '../bridge/commClient';
import { BridgeStatus, KernelBridge } from '../bridge/kernelBridge';
import {
  ExprscopeError,
  IDescribeResult,
  IMatrixInfo,
  IObjectInfo,
  IObsColumn,
  describeError
} from '../bridge/protocol';
import type { ICompareArgs, IComparison } from '../data/comparison';
import { GeneIndex, splitGeneList } from '../data/genes';
import type { IGroupSufficientStats } from '../data/groupStats';
import {
  ExpressionRepository,
  IExpressionData,
  IGroupStatsArgs
} from '../data/repository';

export type MessageLevel = 'info' | 'warning' | 'error';

export interface IPanelMessage {
  level: MessageLevel;
  text: string;
  /**
   * Messages about one thing (the state of an object in the kernel) share a key: a new one
   * replaces the old, so repeated runs of a notebook leave one message, not a pile.
   */
  key?: string;
}

/** What the user chose; kept per kernel. */
export interface ISelection {
  object: string | null;
  datasetColumn: string | null;
  clusterColumn: string | null;
  /** The sample (replicate, donor) column: condition comparisons across replicates. */
  sampleColumn: string | null;
  matrix: string;
  genes: string[];
}

/** A short account of the expression data currently loaded for the selection. */
export interface ILoadedSummary {
  matrix: string;
  genes: string[];
  nCells: number;
  bytes: number;
  missing: string[];
  missingReason: Record<string, string>;
}

interface IBridgeState {
  objects: IObjectInfo[];
  description: IDescribeResult | null;
  selection: ISelection;
  loaded: ILoadedSummary | null;
  messages: IPanelMessage[];
  objectGone: boolean;
  /** Genes asked for that the matrix does not hold (see `requestedMissing`). */
  notFound: string[];
}

export interface ISessionOptions {
  /** Follow the active notebook or console (the sidebar). */
  manager?: BridgeManager;
  /**
   * Or stay on one kernel with a preset selection (a plot in a notebook output, which
   * belongs to its notebook's kernel whichever notebook has focus).
   */
  pinned?: { bridge: KernelBridge; selection: Partial<ISelection> };
  repositoryFor: (bridge: KernelBridge) => ExpressionRepository;
  /** Read at use time so settings changes apply at once. */
  settings: () => { refreshAfterExecution: boolean };
}

const EMPTY_SELECTION: ISelection = {
  object: null,
  datasetColumn: null,
  clusterColumn: null,
  sampleColumn: null,
  matrix: 'X',
  genes: []
};

export class ExprscopeSession {
  constructor(options: ISessionOptions) {
    this._manager = options.manager ?? null;
    this._repositoryFor = options.repositoryFor;
    this._settings = options.settings;
    this._pinned = options.pinned !== undefined;
    if (options.pinned) {
      const { bridge, selection } = options.pinned;
      this._connectBridge(bridge);
      const state = this._states.get(bridge)!;
      // The preset is kept by the first describe where the object has it (see _describe).
      state.selection = { ...EMPTY_SELECTION, ...selection };
      this._lastStatus = bridge.status;
      if (bridge.status === 'ready') {
        void this.refresh();
      }
    } else if (this._manager) {
      this._manager.activeChanged.connect(this._onActiveChanged, this);
      this._onActiveChanged(this._manager, this._manager.active);
    }
  }

  /** Emitted whenever anything the view shows changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get bridge(): KernelBridge | null {
    return this._bridge;
  }

  get status(): BridgeStatus {
    return this._bridge?.status ?? 'no-kernel';
  }

  get statusMessage(): string {
    return (
      this._bridge?.statusMessage ??
      'Open a notebook or console to explore its data.'
    );
  }

  /** Number of requests in flight: the view shows a progress indicator while it is > 0. */
  get busyCount(): number {
    return this._busy;
  }

  get objects(): IObjectInfo[] {
    return this._state?.objects ?? [];
  }

  get description(): IDescribeResult | null {
    return this._state?.description ?? null;
  }

  get selection(): ISelection {
    return this._state?.selection ?? EMPTY_SELECTION;
  }

  get loaded(): ILoadedSummary | null {
    return this._state?.loaded ?? null;
  }

  get messages(): IPanelMessage[] {
    return this._state?.messages ?? [];
  }

  /**
   * Genes the user asked for (typed or pasted) that the selected matrix does not hold.
   * They are not selected (there is nothing to fetch), but plots of the selected genes
   * list them in their own notes, so that exports and saved notebooks keep them too.
   * Cleared with the genes, or by choosing another object.
   */
  get requestedMissing(): string[] {
    return this._state?.notFound ?? [];
  }

  get objectGone(): boolean {
    return this._state?.objectGone ?? false;
  }

  /** How the selected matrix is shown to users (e.g. `layers['integrated']`). */
  get matrixLabel(): string {
    const id = this.selection.matrix;
    return this.matrices.find(m => m.id === id)?.label ?? id;
  }

  /** Categorical obs columns: the candidates for "dataset" and "cluster". */
  get groupingColumns(): IObsColumn[] {
    return (this.description?.obs ?? []).filter(c => c.kind === 'categorical');
  }

  get matrices(): IMatrixInfo[] {
    return this.description?.matrices ?? [];
  }

  /** The gene index of the selected matrix (raw may hold other genes than X). */
  get geneIndex(): GeneIndex | null {
    const description = this.description;
    if (!description) {
      return null;
    }
    const matrix = this.matrices.find(m => m.id === this.selection.matrix);
    const genes = matrix?.genes ?? description.genes;
    const key = `${description.name}\u0000${description.fingerprint}\u0000${this.selection.matrix}`;
    if (this._geneIndexKey !== key) {
      this._geneIndex = new GeneIndex(genes);
      this._geneIndexKey = key;
    }
    return this._geneIndex;
  }

  /**
   * Ask the kernel again which objects it holds (and whether the selected one changed).
   * Refreshes run one at a time: a refresh asked for while one runs runs once after it,
   * so two overlapping `list` replies never race each other's `describe`.
   */
  refresh(): Promise<void> {
    if (this._refreshing) {
      this._refreshAgain = true;
      return this._refreshing;
    }
    this._refreshing = (async () => {
      try {
        do {
          this._refreshAgain = false;
          await this._refreshOnce();
        } while (this._refreshAgain);
      } finally {
        this._refreshing = null;
      }
    })();
    return this._refreshing;
  }

  private async _refreshOnce(): Promise<void> {
    const bridge = this._bridge;
    const state = this._state;
    if (!bridge || !state) {
      return;
    }
    await this._track(async () => {
      const objects = await bridge.list();
      if (this._bridge !== bridge) {
        return;
      }
      state.objects = objects;
      const selected = state.selection.object;
      if (selected === null) {
        // Pick the only object, or the first one, so the panel is useful at once.
        if (objects.length > 0) {
          await this.selectObject(objects[0].name);
        }
        return;
      }
      const current = objects.find(o => o.name === selected);
      if (!current && this._pinned) {
        // A plot made from Python may hold an object no variable names (served under a
        // handle that `list` does not show): describe it directly, once.
        if (state.description === null) {
          await this._describe(selected, true);
        }
        return;
      }
      if (!current) {
        if (!state.objectGone) {
          state.objectGone = true;
          this._message(
            'warning',
            `'${selected}' is no longer in the kernel (deleted, renamed or not an AnnData any more). Your selection is kept; pick another object or recreate it.`,
            objectKey(selected)
          );
        }
        return;
      }
      if (state.description === null) {
        // Its first describe has not come back yet (or failed): nothing stale to report.
        await this._describe(selected, true);
        return;
      }
      if (
        state.objectGone ||
        state.description.fingerprint !== current.fingerprint
      ) {
        const wasGone = state.objectGone;
        state.objectGone = false;
        await this._describe(selected, true);
        this._message(
          'info',
          wasGone
            ? `'${selected}' is back in the kernel; reloaded it.`
            : `'${selected}' changed in the kernel; reloaded its description and dropped cached data.`,
          objectKey(selected)
        );
      }
    });
  }

  async selectObject(name: string): Promise<void> {
    const state = this._state;
    if (!state) {
      return;
    }
    const same = state.selection.object === name;
    state.selection = same
      ? state.selection
      : { ...EMPTY_SELECTION, object: name };
    state.loaded = same ? state.loaded : null;
    state.notFound = same ? state.notFound : [];
    // Never pair the new object with the old one's description (fingerprint, matrices).
    state.description = same ? state.description : null;
    state.objectGone = false;
    this._emit();
    await this._track(() => this._describe(name, same));
  }

  /**
   * Show a whole selection at once (loaded plot parameters): the object, its columns,
   * matrix and genes, kept wherever the object has them (see `_describe`).
   */
  async applySelection(selection: ISelection): Promise<void> {
    const state = this._state;
    if (!state || selection.object === null) {
      throw new ExprscopeError(
        'no_kernel',
        'Open a notebook or console with a running kernel first.'
      );
    }
    const same = state.selection.object === selection.object;
    state.selection = { ...selection };
    state.loaded = same ? state.loaded : null;
    state.notFound = [];
    state.description = same ? state.description : null;
    state.objectGone = false;
    this._emit();
    await this._track(() => this._describe(selection.object!, true));
  }

  setDatasetColumn(column: string | null): void {
    this._updateSelection({ datasetColumn: column });
  }

  setClusterColumn(column: string | null): void {
    this._updateSelection({ clusterColumn: column });
  }

  setSampleColumn(column: string | null): void {
    this._updateSelection({ sampleColumn: column });
  }

  setMatrix(matrix: string): void {
    const state = this._state;
    if (!state || state.notFound.length === 0) {
      this._updateSelection({ matrix });
      return;
    }
    // Genes asked for that this matrix holds (raw may have more) are selected now.
    state.selection = { ...state.selection, matrix };
    const resolution = this.geneIndex?.resolve(state.notFound);
    const found = (resolution?.found ?? []).filter(
      g => !state.selection.genes.includes(g)
    );
    if (resolution) {
      state.notFound = [
        ...resolution.unknown,
        ...resolution.ambiguous.map(a => a.input)
      ];
    }
    this._updateSelection({ genes: [...state.selection.genes, ...found] });
  }

  /**
   * Add genes typed or pasted by the user. Unknown and ambiguous names are reported, never
   * dropped silently. Returns the genes that were added.
   */
  addGenes(input: string | string[]): string[] {
    const index = this.geneIndex;
    const state = this._state;
    if (!index || !state) {
      this._message('warning', 'Choose an object before adding genes.');
      return [];
    }
    const names = typeof input === 'string' ? splitGeneList(input) : input;
    const resolution = index.resolve(names);
    if (resolution.unknown.length > 0) {
      this._message(
        'warning',
        `Not in ${this._matrixLabel()}: ${formatList(resolution.unknown)}.`
      );
    }
    for (const { input: name, candidates } of resolution.ambiguous) {
      this._message(
        'warning',
        `'${name}' matches several genes (${candidates.join(', ')}); type the exact name.`
      );
    }
    // Unknown names stay with the request (plots list them); found ones leave that list.
    const found = new Set(resolution.found.map(g => g.toLowerCase()));
    const notFound = [
      ...state.notFound.filter(g => !found.has(g.toLowerCase())),
      ...resolution.unknown.filter(g => !state.notFound.includes(g))
    ];
    const notFoundChanged =
      notFound.length !== state.notFound.length ||
      notFound.some((g, i) => g !== state.notFound[i]);
    state.notFound = notFound;
    const current = new Set(state.selection.genes);
    const added = resolution.found.filter(g => !current.has(g));
    if (added.length > 0) {
      this._updateSelection({ genes: [...state.selection.genes, ...added] });
    } else if (notFoundChanged) {
      this._emit();
    }
    return added;
  }

  removeGene(gene: string): void {
    const state = this._state;
    if (state) {
      state.notFound = state.notFound.filter(g => g !== gene);
    }
    this._updateSelection({
      genes: this.selection.genes.filter(g => g !== gene)
    });
  }

  clearGenes(): void {
    const state = this._state;
    if (state) {
      state.notFound = [];
    }
    this._updateSelection({ genes: [] });
  }

  dismissMessage(index: number): void {
    const state = this._state;
    if (state) {
      state.messages = state.messages.filter((_, i) => i !== index);
      this._emit();
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._connectBridge(null);
    this._manager?.activeChanged.disconnect(this._onActiveChanged, this);
    this._loadAbort?.abort();
    Signal.clearData(this);
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  private _onActiveChanged(
    _: BridgeManager,
    bridge: KernelBridge | null
  ): void {
    if (bridge === this._bridge) {
      return;
    }
    this._connectBridge(bridge);
    // The last status seen is the new bridge's, not the previous kernel's.
    this._lastStatus = bridge?.status ?? 'no-kernel';
    this._emit();
    if (bridge && bridge.status === 'ready') {
      void this.refresh();
    }
  }

  private _connectBridge(bridge: KernelBridge | null): void {
    if (this._bridge) {
      this._bridge.statusChanged.disconnect(this._onStatusChanged, this);
      this._bridge.executed.disconnect(this._onExecuted, this);
    }
    this._bridge = bridge;
    if (bridge) {
      bridge.statusChanged.connect(this._onStatusChanged, this);
      bridge.executed.connect(this._onExecuted, this);
      if (!this._states.has(bridge)) {
        this._states.set(bridge, {
          objects: [],
          description: null,
          selection: { ...EMPTY_SELECTION },
          loaded: null,
          messages: [],
          objectGone: false,
          notFound: []
        });
      }
    }
  }

  private get _state(): IBridgeState | null {
    return this._bridge ? (this._states.get(this._bridge) ?? null) : null;
  }

  private _onStatusChanged(bridge: KernelBridge, status: BridgeStatus): void {
    if (bridge !== this._bridge) {
      return;
    }
    if (status === 'ready' && this._lastStatus !== 'busy') {
      // Connected (first time or after a restart): the namespace may be new.
      void this.refresh().then(() => this._load());
    }
    if (status === 'restarting' || status === 'dead') {
      const state = this._state;
      if (state) {
        state.loaded = null;
      }
    }
    this._lastStatus = status;
    this._emit();
  }

  private _onExecuted(bridge: KernelBridge): void {
    if (bridge === this._bridge && this._settings().refreshAfterExecution) {
      void this.refresh();
    }
  }

  private async _describe(name: string, keepSelection: boolean): Promise<void> {
    const bridge = this._bridge;
    const state = this._state;
    if (!bridge || !state) {
      return;
    }
    const description = await bridge.describe(name);
    if (this._bridge !== bridge || state.selection.object !== name) {
      return; // the user moved on while we waited
    }
    state.description = description;
    const selection = state.selection;
    const columns = new Set(
      description.obs.filter(c => c.kind === 'categorical').map(c => c.name)
    );
    const matrices = new Set(description.matrices.map(m => m.id));
    const pick = (
      chosen: string | null,
      guess: string | null
    ): string | null =>
      keepSelection && chosen !== null && columns.has(chosen)
        ? chosen
        : guess && columns.has(guess)
          ? guess
          : null;
    state.selection = {
      ...selection,
      datasetColumn: pick(selection.datasetColumn, description.guesses.dataset),
      clusterColumn: pick(selection.clusterColumn, description.guesses.cluster),
      sampleColumn: pick(
        selection.sampleColumn,
        description.guesses.sample ?? null
      ),
      // The object's first matrix when the chosen one is not there (R objects have no X).
      matrix: matrices.has(selection.matrix)
        ? selection.matrix
        : (description.matrices[0]?.id ?? 'X'),
      genes: keepSelection ? selection.genes : []
    };
    if (keepSelection && state.selection.genes.length > 0) {
      // Genes may have disappeared (e.g. subset to HVGs): keep known ones, report the rest.
      const index = this.geneIndex;
      if (index) {
        const gone = state.selection.genes.filter(g => !index.has(g));
        if (gone.length > 0) {
          this._message(
            'warning',
            `No longer in ${this._matrixLabel()}: ${formatList(gone)}. They stay listed until you remove them.`
          );
        }
      }
    }
    this._emit();
    await this._load();
  }

  private _updateSelection(patch: Partial<ISelection>): void {
    const state = this._state;
    if (!state) {
      return;
    }
    state.selection = { ...state.selection, ...patch };
    this._emit();
    void this._load();
  }

  /** Fetch (or take from the cache) the selected genes and grouping columns. */
  private async _load(): Promise<void> {
    // Whatever was loading is for an older selection, even if nothing loads now.
    this._loadAbort?.abort();
    this._loadAbort = null;
    const bridge = this._bridge;
    const state = this._state;
    const description = state?.description;
    if (!bridge || !state || !description || bridge.status === 'no-kernel') {
      return;
    }
    const {
      object,
      matrix,
      genes,
      datasetColumn,
      clusterColumn,
      sampleColumn
    } = state.selection;
    if (
      !object ||
      genes.length === 0 ||
      description.execution?.path === 'kernel'
    ) {
      // Kernel path (out of core, very large): the plots ask for per-group sums; the cells
      // of the chosen genes are not brought into the browser ahead of time.
      state.loaded = null;
      this._emit();
      return;
    }
    const abort = new AbortController();
    this._loadAbort = abort;
    // Statistics first: the heatmap's sums go to the kernel ahead of the cells (its one
    // comm queue answers in order), so that a heatmap opened now never waits behind them.
    const stats = this.selectionStatsArgs(genes);
    if (stats) {
      this.groupStats(stats).catch(() => undefined); // the heatmap reports failures
    }
    const obs = [datasetColumn, clusterColumn, sampleColumn ?? null].filter(
      (c): c is string => c !== null
    );
    await this._track(async () => {
      let data: IExpressionData;
      try {
        data = await this._repositoryFor(bridge).getExpression(
          {
            object,
            fingerprint: description.fingerprint,
            matrix,
            genes,
            obs: [...new Set(obs)]
          },
          { signal: abort.signal }
        );
      } catch (err) {
        if (err instanceof ExprscopeError && err.code === 'cancelled') {
          return;
        }
        throw err;
      }
      if (this._bridge !== bridge || abort.signal.aborted) {
        return;
      }
      let bytes = 0;
      data.genes.forEach(column => (bytes += column.byteLength));
      state.loaded = {
        matrix,
        genes: genes.filter(g => data.genes.has(g)),
        nCells: data.nCells,
        bytes,
        missing: data.missing,
        missingReason: data.missingReason
      };
    });
  }

  /** The selected object's repository, object and description, or a clear error. */
  private _selected(): {
    repository: ReturnType<ExprscopeSession['_repositoryFor']>;
    object: string;
    description: NonNullable<ExprscopeSession['description']>;
  } {
    const bridge = this._bridge;
    const description = this.description;
    const object = this.selection.object;
    if (!bridge || !description || !object) {
      throw new ExprscopeError(
        'no_kernel',
        'Pick an object in the exprscope sidebar first.'
      );
    }
    return { repository: this._repositoryFor(bridge), object, description };
  }

  /**
   * Expression of `genes` (plus the dataset and cluster columns) in the selected object and
   * matrix, from the shared cache or the kernel. For the plots; failures are thrown.
   */
  async expression(
    genes: string[],
    options: IRequestOptions = {},
    extras: { embedding?: string | null; cellIds?: boolean | 'cached' } = {}
  ): Promise<IExpressionData> {
    const bridge = this._bridge;
    const description = this.description;
    const { object, matrix, datasetColumn, clusterColumn, sampleColumn } =
      this.selection;
    if (!bridge || !description || !object) {
      throw new ExprscopeError(
        'no_kernel',
        'Pick an object in the exprscope sidebar first.'
      );
    }
    const obs = [datasetColumn, clusterColumn, sampleColumn ?? null].filter(
      (c): c is string => c !== null
    );
    return this._repositoryFor(bridge).getExpression(
      {
        object,
        fingerprint: description.fingerprint,
        matrix,
        genes,
        obs: [...new Set(obs)],
        embedding: extras.embedding ?? null,
        cellIds: extras.cellIds ?? false
      },
      options
    );
  }

  /**
   * The comparison of two datasets within each cluster of the selected object (the
   * kernel's `compare`), from the shared cache or the kernel. For the plots.
   */
  async comparison(
    args: ICompareArgs,
    options: IRequestOptions = {}
  ): Promise<IComparison> {
    const { repository, object, description } = this._selected();
    return repository.getComparison(
      object,
      description.fingerprint,
      args,
      options
    );
  }

  /**
   * Per-group statistics of every gene of the selected object's matrix (the kernel's
   * `group_stats`), from the shared cache or the kernel.
   */
  async groupStats(
    args: IGroupStatsArgs,
    options: IRequestOptions = {}
  ): Promise<IGroupSufficientStats> {
    const { repository, object, description } = this._selected();
    return repository.getGroupStats(
      object,
      description.fingerprint,
      args,
      options
    );
  }

  /**
   * Per-group sums of `genes` by the selected dataset, cluster and sample columns: what a
   * heatmap is drawn from at every size (statistics first; the sample column lets it count
   * the samples behind each column; `samples: false` leaves it out). Null when neither a
   * dataset nor a cluster is chosen.
   */
  selectionStatsArgs(
    genes: string[],
    options: { samples?: boolean } = {}
  ): IGroupStatsArgs | null {
    const { matrix, datasetColumn, clusterColumn } = this.selection;
    if (!datasetColumn && !clusterColumn) {
      return null;
    }
    const sampleColumn =
      options.samples === false ? null : this.selection.sampleColumn;
    const groupby = [datasetColumn, clusterColumn, sampleColumn].filter(
      (c): c is string => !!c
    );
    return { matrix, groupby: [...new Set(groupby)], genes, expm1: true };
  }

  /** Send a request about the selected object to the kernel (ops other than fetch). */
  async request<R>(
    op: string,
    args: object,
    options: IRequestOptions = {}
  ): Promise<IResponse<R>> {
    const bridge = this._bridge;
    if (!bridge) {
      throw new ExprscopeError(
        'no_kernel',
        'Open a notebook or console with a running kernel first.'
      );
    }
    return bridge.request<R>(op, args, options);
  }

  /** Run a kernel task, counting it as busy and turning failures into messages. */
  private async _track(task: () => Promise<void>): Promise<void> {
    this._busy++;
    this._emit();
    try {
      await task();
    } catch (err) {
      this._message('error', describeError(err));
    } finally {
      this._busy--;
      this._emit();
    }
  }

  private _matrixLabel(): string {
    const matrix = this.matrices.find(m => m.id === this.selection.matrix);
    const object = this.selection.object ?? 'the object';
    return `${object} (${matrix?.label ?? this.selection.matrix})`;
  }

  private _message(level: MessageLevel, text: string, key?: string): void {
    const state = this._state;
    if (!state) {
      return;
    }
    // Keep the list short and free of repeats: the newest message is on top, and it
    // replaces an older one about the same thing (same key).
    state.messages = [
      key === undefined ? { level, text } : { level, text, key },
      ...state.messages.filter(
        m => m.text !== text && (key === undefined || m.key !== key)
      )
    ].slice(0, MAX_MESSAGES);
    this._emit();
  }

  private _emit(): void {
    if (!this._isDisposed) {
      this._changed.emit();
    }
  }

  private readonly _manager: BridgeManager | null;
  private readonly _pinned: boolean;
  private readonly _repositoryFor: (
    bridge: KernelBridge
  ) => ExpressionRepository;
  private readonly _settings: () => { refreshAfterExecution: boolean };
  private readonly _states = new WeakMap<KernelBridge, IBridgeState>();
  private readonly _changed = new Signal<this, void>(this);
  private _bridge: KernelBridge | null = null;
  private _lastStatus: BridgeStatus = 'no-kernel';
  private _busy = 0;
  private _refreshing: Promise<void> | null = null;
  private _refreshAgain = false;
  private _loadAbort: AbortController | null = null;
  private _geneIndex: GeneIndex | null = null;
  private _geneIndexKey = '';
  private _isDisposed = false;
}

const MAX_MESSAGES = 6;

/** Key of the messages about an object's state in the kernel (gone, back, changed). */
function objectKey(name: string): string {
  return `object:${name}`;
}

/** "A, B, C and 12 more" — long lists of unknown genes stay readable. */
export function formatList(items: string[], max = 10): string {
  if (items.length <= max) {
    return items.join(', ');
  }
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

/** The session's former names (it began as the sidebar's model). */
export { ExprscopeSession as ExprscopePanelModel };
export type IPanelModelOptions = ISessionOptions;
