/**
 * The exprscope sidebar: which object, which columns are dataset and cluster, which matrix,
 * which genes. It renders ExprscopeSession and forwards user actions to it.
 */
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { exprscopeIcon } from '../icons';
import {
  CategorySummary,
  ColumnSelect,
  Field,
  GeneChips,
  GeneSearch,
  LoadedSummary,
  Messages,
  PasteGenes,
  StatusLine
} from './components';
import { ExprscopeSession } from '../session/session';

export interface ISidebarOptions {
  model: ExprscopeSession;
  /** Read at render time so settings changes apply at once. */
  suggestionLimit: () => number;
  /** Show the heatmap of the current selection in the main area. */
  openHeatmap: () => void;
  /** Show gene vs gene of the current selection in the main area. */
  openDualExpression: () => void;
}

export class ExprscopeSidebar extends ReactWidget {
  constructor(options: ISidebarOptions) {
    super();
    this._model = options.model;
    this._suggestionLimit = options.suggestionLimit;
    this._openHeatmap = options.openHeatmap;
    this._openDual = options.openDualExpression;
    this.id = 'exprscope-sidebar';
    this.addClass('jp-exprscope-sidebar');
    this.title.icon = exprscopeIcon;
    this.title.caption =
      'exprscope: gene expression across datasets and clusters';
  }

  get model(): ExprscopeSession {
    return this._model;
  }

  /** Move keyboard focus to the gene search (used by the "search genes" command). */
  focusGeneSearch(): void {
    this.node
      .querySelector<HTMLInputElement>('#jp-exprscope-gene-input')
      ?.focus();
  }

  dispose(): void {
    this._model.dispose();
    super.dispose();
  }

  protected render(): JSX.Element {
    return (
      <UseSignal signal={this._model.changed}>
        {() => (
          <SidebarContent
            model={this._model}
            suggestionLimit={this._suggestionLimit()}
            openHeatmap={this._openHeatmap}
            openDualExpression={this._openDual}
          />
        )}
      </UseSignal>
    );
  }

  private readonly _model: ExprscopeSession;
  private readonly _suggestionLimit: () => number;
  private readonly _openHeatmap: () => void;
  private readonly _openDual: () => void;
}

function SidebarContent(props: {
  model: ExprscopeSession;
  suggestionLimit: number;
  openHeatmap: () => void;
  openDualExpression: () => void;
}): JSX.Element {
  const { model } = props;
  const description = model.description;
  const selection = model.selection;
  const columns = model.groupingColumns;
  const ready = model.status === 'ready' || model.status === 'busy';
  const matrixLabel =
    model.matrices.find(m => m.id === selection.matrix)?.label ??
    selection.matrix;
  return (
    <div className="jp-exprscope-content">
      <header className="jp-exprscope-header">
        <h2>exprscope</h2>
        <button
          className="jp-exprscope-refresh jp-mod-styled"
          title="List the kernel's objects again"
          aria-label="Refresh"
          disabled={!ready}
          onClick={() => void model.refresh()}
        >
          ↻
        </button>
      </header>
      <StatusLine
        status={model.status}
        message={model.statusMessage}
        busyCount={model.busyCount}
      />
      <Messages
        messages={model.messages}
        onDismiss={i => model.dismissMessage(i)}
      />
      {ready && model.objects.length === 0 && (
        <p className="jp-exprscope-hint">
          No AnnData object in this kernel yet. Load one in the notebook, e.g.{' '}
          <code>adata = exprscope.datasets.kang_pbmc()</code>.
        </p>
      )}
      {model.objects.length > 0 && (
        <Field label="Object" htmlFor="jp-exprscope-object">
          <select
            id="jp-exprscope-object"
            className="jp-mod-styled"
            value={selection.object ?? ''}
            onChange={e => void model.selectObject(e.target.value)}
          >
            {selection.object === null && <option value="">Choose…</option>}
            {model.objectGone && selection.object !== null && (
              <option value={selection.object}>
                {selection.object} (gone)
              </option>
            )}
            {model.objects.map(o => (
              <option key={o.name} value={o.name}>
                {o.name} — {o.type} {o.n_obs.toLocaleString()} ×{' '}
                {o.n_vars.toLocaleString()}
              </option>
            ))}
          </select>
        </Field>
      )}
      {description && (
        <>
          <section className="jp-exprscope-summary" aria-label="Object summary">
            <dl>
              <dt>Cells</dt>
              <dd>{description.n_obs.toLocaleString()}</dd>
              <dt>Genes</dt>
              <dd>{description.n_vars.toLocaleString()}</dd>
              <dt>Matrices</dt>
              <dd>{description.matrices.map(m => m.label).join(', ')}</dd>
              <dt>Embeddings</dt>
              <dd>
                {description.embeddings.length > 0
                  ? description.embeddings.map(e => e.name).join(', ')
                  : 'none'}
              </dd>
            </dl>
          </section>
          <Field label="Dataset column" htmlFor="jp-exprscope-dataset">
            <ColumnSelect
              id="jp-exprscope-dataset"
              value={selection.datasetColumn}
              columns={columns}
              onChange={v => model.setDatasetColumn(v)}
            />
          </Field>
          <CategorySummary
            column={columns.find(c => c.name === selection.datasetColumn)}
          />
          <Field label="Cluster column" htmlFor="jp-exprscope-cluster">
            <ColumnSelect
              id="jp-exprscope-cluster"
              value={selection.clusterColumn}
              columns={columns}
              onChange={v => model.setClusterColumn(v)}
            />
          </Field>
          <CategorySummary
            column={columns.find(c => c.name === selection.clusterColumn)}
          />
          <Field label="Sample column" htmlFor="jp-exprscope-sample">
            <ColumnSelect
              id="jp-exprscope-sample"
              value={selection.sampleColumn}
              columns={columns}
              onChange={v => model.setSampleColumn(v)}
            />
          </Field>
          <p className="jp-exprscope-hint">
            Replicates or donors: condition comparisons sum counts per sample
            (pseudobulk DESeq2). None: cells are tested, as if they were
            replicates.
          </p>
          <Field label="Matrix" htmlFor="jp-exprscope-matrix">
            <select
              id="jp-exprscope-matrix"
              className="jp-mod-styled"
              value={selection.matrix}
              onChange={e => model.setMatrix(e.target.value)}
            >
              {description.matrices.map(m => (
                <option key={m.id} value={m.id}>
                  {m.label} ({m.storage}, {m.n_vars.toLocaleString()} genes)
                </option>
              ))}
            </select>
          </Field>
          <Field label="Genes" htmlFor="jp-exprscope-gene-input">
            <GeneSearch
              index={model.geneIndex}
              limit={props.suggestionLimit}
              selected={selection.genes}
              onAdd={genes => model.addGenes(genes)}
            />
          </Field>
          <PasteGenes
            disabled={!model.geneIndex}
            onAdd={text => model.addGenes(text)}
          />
          <GeneChips
            genes={selection.genes}
            missing={model.loaded?.missing ?? []}
            onRemove={g => model.removeGene(g)}
            onClear={() => model.clearGenes()}
          />
          <div className="jp-exprscope-actions">
            <button
              id="jp-exprscope-open-heatmap"
              className="jp-mod-styled jp-mod-accept"
              onClick={props.openHeatmap}
              title="Heatmap of these genes, or of the top markers per cluster"
            >
              Heatmap
            </button>
            <button
              id="jp-exprscope-open-dual"
              className="jp-mod-styled jp-mod-accept"
              onClick={props.openDualExpression}
              title="Gene vs gene per cell, with the correlation per dataset and cluster"
            >
              Dual expression
            </button>
          </div>
          {description.execution?.path === 'kernel' && (
            <p className="jp-exprscope-loaded" data-path="kernel">
              Computed in the kernel: {description.execution.reason}
            </p>
          )}
          {model.loaded && (
            <LoadedSummary
              nCells={model.loaded.nCells}
              genes={model.loaded.genes}
              bytes={model.loaded.bytes}
              matrixLabel={matrixLabel}
              missing={model.loaded.missing}
              missingReason={model.loaded.missingReason}
            />
          )}
        </>
      )}
    </div>
  );
}
