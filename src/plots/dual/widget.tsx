/**
 * The dual-expression view in the main area: gene X vs gene Y per cell with per-group
 * correlations, the two-gene blend on an embedding, and lasso selections shared by both.
 */
import * as React from 'react';

import { Field, GeneSearch } from '../../panel/components';
import {
  CheckboxField,
  ChoiceField,
  ClusterListField,
  ControlsForm,
  MatrixField
} from '../controls';
import { PlotlyFigure } from '../PlotlyFigure';
import type { IPlotSelection } from '../plotly';
import {
  IPlotViewProps,
  IPlotWidgetOptions,
  PlotNotes,
  PlotStatus,
  PlotWidget
} from '../PlotWidget';
import { readPlotTheme } from '../theme';
import { DualController } from './controller';
import {
  binnedRegions,
  blendEmbeddingFigure,
  dualScatterFigure,
  formatCorrelation,
  formatP,
  PointCells,
  selectionToCells,
  statsTableRows
} from './figure';
import type { DualColorBy, DualDensity, DualFacetBy, IDeltaR } from './model';
import {
  DELTA_R_COLUMNS,
  DeltaRColumn,
  ISortState,
  nextSort,
  sortByState,
  STATS_COLUMNS,
  StatsColumn
} from './tableSort';

/** Gene vs gene per cell and the blend on an embedding, driven by the sidebar. */
export class DualExpressionWidget extends PlotWidget<DualController> {
  constructor(options: IPlotWidgetOptions<DualController>) {
    super(options, {
      id: 'exprscope-dual',
      label: 'Dual expression',
      className: 'jp-exprscope-dual',
      view: DualView
    });
  }
}

function DualView(props: IPlotViewProps<DualController>): JSX.Element {
  const { controller, themeVersion, embedded, controlId } = props;
  const { state } = controller;
  const model = state.model;
  // Keyed on the model's version, read from the controller inside: React keeps the
  // previous render's memos a while, and they must not keep the previous model.
  const version = controller.modelVersion;
  const scatter = React.useMemo(() => {
    const current = controller.state;
    return current.model
      ? dualScatterFigure(current.model, {
          theme: readPlotTheme(),
          selected: current.selected,
          title: `${current.object ?? ''} · ${current.matrixLabel ?? ''}`
        })
      : null;
  }, [version, state.selected, themeVersion]);
  // Recolouring or refaceting leaves the blend as it was: keep its figure (and spare
  // Plotly a redraw). Models from the worker are copies, so the blend's key tells; hover
  // names cells by the input's ids and labels, the same objects while the input holds.
  const blendKey = model?.blend
    ? [model.blend.key, model.geneX, model.geneY, model.matrix].join('\u0000')
    : null;
  const blend = React.useMemo(() => {
    const current = controller.state;
    return current.model?.blend
      ? blendEmbeddingFigure(current.model, {
          theme: readPlotTheme(),
          selected: current.selected
        })
      : null;
  }, [
    blendKey,
    model?.dataset,
    model?.cluster,
    model?.cellIds,
    state.selected,
    themeVersion
  ]);
  const rows = React.useMemo(() => {
    const current = controller.state.model;
    return current ? statsTableRows(current) : [];
  }, [version]);
  const [statsSort, setStatsSort] =
    React.useState<ISortState<StatsColumn> | null>(null);
  const sortedRows = React.useMemo(
    () => sortByState(rows, statsSort, STATS_COLUMNS),
    [rows, statsSort]
  );
  // Binned views are selected by the shape drawn, over the model's cells at that time
  const onSelect =
    (pointCells: PointCells, view: 'scatter' | 'blend') =>
    (selection: IPlotSelection | null) => {
      const current = controller.state.model;
      controller.select(
        selection && current
          ? selectionToCells(
              pointCells,
              binnedRegions(current, view),
              selection,
              current.nCells
            )
          : null
      );
    };
  return (
    <div className="jp-exprscope-plot-panel jp-exprscope-dual-panel">
      <DualControls controller={controller} controlId={controlId} />
      <PlotStatus status={state.status} message={state.message}>
        {state.selected && (
          <span className="jp-exprscope-selection">
            {countSelected(state.selected).toLocaleString('en-US')} cells
            selected{' '}
            <button
              className="jp-mod-styled"
              onClick={() => controller.select(null)}
            >
              Clear selection
            </button>
          </span>
        )}
      </PlotStatus>
      {model && <PlotNotes notes={model.notes} />}
      {/* Plots and tables side by side in a wide view, tables below otherwise (CSS) */}
      <div className="jp-exprscope-dual-body">
        {model && (
          <div className="jp-exprscope-dual-plots">
            {scatter && (
              <PlotlyFigure
                figure={scatter.figure}
                className="jp-exprscope-dual-scatter"
                label={`${model.geneX} against ${model.geneY}, one point per cell`}
                onSelect={onSelect(scatter.pointCells, 'scatter')}
                onRendered={props.onRendered}
                releaseOffscreen={embedded}
              />
            )}
            {blend && (
              <PlotlyFigure
                figure={blend.figure}
                className="jp-exprscope-dual-blend"
                label={`Co-expression of ${model.geneX} and ${model.geneY} on ${model.blend?.embedding}`}
                onSelect={onSelect(blend.pointCells, 'blend')}
                releaseOffscreen={embedded}
              />
            )}
          </div>
        )}
        {(rows.length > 0 || (model && model.deltaR.length > 0)) && (
          <div className="jp-exprscope-dual-tables">
            {rows.length > 0 && (
              <table
                className="jp-exprscope-stats"
                aria-label="Correlation per group"
              >
                <thead>
                  <tr>
                    {STATS_HEADERS.map(([column, label, numeric]) => (
                      <SortHeader
                        key={column}
                        column={column}
                        label={label}
                        numeric={numeric}
                        sort={statsSort}
                        onSort={c => setStatsSort(nextSort(statsSort, c))}
                      />
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {sortedRows.map(row => (
                    <tr
                      key={`${row.section}-${row.group}`}
                      data-section={row.section}
                      data-group={row.group}
                      data-pearson={row.stats.pearsonR}
                      data-spearman={row.stats.spearmanRho}
                      data-n={row.stats.nCells}
                    >
                      <th scope="row">
                        {row.section}: {row.group}
                      </th>
                      <td className="jp-exprscope-num">{row.nCells}</td>
                      <td className="jp-exprscope-num jp-exprscope-pearson">
                        <WithInterval text={row.pearson} />
                      </td>
                      <td className="jp-exprscope-num jp-exprscope-spearman">
                        <WithInterval text={row.spearman} />
                      </td>
                      <td className="jp-exprscope-num">{row.doublePositive}</td>
                      <td className="jp-exprscope-note">{row.note}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            {model && model.deltaR.length > 0 && (
              <DeltaRTable rows={model.deltaR} />
            )}
          </div>
        )}
      </div>
    </div>
  );
}

/** The correlation table's columns: what sorts them, the header, whether numeric. */
const STATS_HEADERS: readonly (readonly [StatsColumn, string, boolean])[] = [
  ['group', 'Group', false],
  ['nCells', 'n cells', true],
  ['pearson', 'Pearson r [95% CI]', true],
  ['spearman', 'Spearman ρ [95% CI]', true],
  ['doublePositive', 'Double positive', true],
  ['note', 'Note', false]
];

const DELTA_R_HEADERS: readonly (readonly [DeltaRColumn, string, boolean])[] = [
  ['cells', 'Cells', false],
  ['datasets', 'Datasets', false],
  ['r', 'r', true],
  ['deltaR', 'Δr [95% CI]', true],
  ['z', 'z', true],
  ['p', 'p', true]
];

/**
 * A column header that sorts its table: a button (reachable by Tab, pressed with Enter
 * or Space) in a header cell whose aria-sort tells screen readers the order.
 */
function SortHeader<K extends string>(props: {
  column: K;
  label: string;
  numeric: boolean;
  sort: ISortState<K> | null;
  onSort: (column: K) => void;
}): JSX.Element {
  const { column, label, sort } = props;
  const direction = sort?.column === column ? sort.direction : undefined;
  return (
    <th
      scope="col"
      aria-sort={direction}
      data-column={column}
      className={props.numeric ? 'jp-exprscope-num' : undefined}
    >
      <button
        type="button"
        className="jp-exprscope-sort"
        title={
          direction === 'descending'
            ? 'Back to the table’s own order'
            : `Sort by ${label}${direction === 'ascending' ? ', descending' : ''}`
        }
        onClick={() => props.onSort(column)}
      >
        {label}
        <span className="jp-exprscope-sort-mark" aria-hidden="true">
          {direction === 'ascending'
            ? '▲'
            : direction === 'descending'
              ? '▼'
              : '↕'}
        </span>
      </button>
    </th>
  );
}

/** "0.42 [0.37, 0.47]" with the interval set off (quieter), on one line. */
function WithInterval(props: { text: string }): JSX.Element {
  const at = props.text.indexOf(' [');
  if (at < 0) {
    return <>{props.text}</>;
  }
  return (
    <>
      {props.text.slice(0, at)}{' '}
      <span className="jp-exprscope-ci">{props.text.slice(at + 1)}</span>
    </>
  );
}

/** Δr between datasets, overall and per cluster, with Fisher's z test. */
function DeltaRTable(props: { rows: readonly IDeltaR[] }): JSX.Element {
  const reference = props.rows[0].reference;
  const [sort, setSort] = React.useState<ISortState<DeltaRColumn> | null>(null);
  const rows = React.useMemo(
    () => sortByState(props.rows, sort, DELTA_R_COLUMNS),
    [props.rows, sort]
  );
  return (
    <table
      className="jp-exprscope-stats jp-exprscope-delta-r"
      aria-label={`Difference of Pearson r against ${reference}`}
    >
      <caption>
        Δr = r(dataset) − r({reference}): Fisher's z test for independent
        correlations, 95% interval by Zou (2007)
      </caption>
      <thead>
        <tr>
          {DELTA_R_HEADERS.map(([column, label, numeric]) => (
            <SortHeader
              key={column}
              column={column}
              label={label}
              numeric={numeric}
              sort={sort}
              onSort={c => setSort(nextSort(sort, c))}
            />
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map(row => (
          <tr
            key={`${row.cluster ?? ''}|${row.target}`}
            data-cluster={row.cluster ?? ''}
            data-target={row.target}
            data-delta-r={row.deltaR}
            data-p={row.p}
          >
            <th scope="row">
              {row.cluster === null ? 'all cells' : `cluster ${row.cluster}`}
            </th>
            <td>
              {row.target} − {row.reference}
            </td>
            <td className="jp-exprscope-num">
              {fixedOrDash(row.rTarget)} vs {fixedOrDash(row.rReference)}{' '}
              <small className="jp-exprscope-ci">
                (n = {row.nTarget.toLocaleString('en-US')} /{' '}
                {row.nReference.toLocaleString('en-US')})
              </small>
            </td>
            <td className="jp-exprscope-num jp-exprscope-delta">
              <WithInterval
                text={formatCorrelation(row.deltaR, row.ciLow, row.ciHigh)}
              />
            </td>
            <td className="jp-exprscope-num">{fixedOrDash(row.z)}</td>
            <td className="jp-exprscope-num">{formatP(row.p)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function fixedOrDash(value: number): string {
  return Number.isFinite(value) ? value.toFixed(2) : '—';
}

const COLOR_BY_CHOICES: readonly (readonly [DualColorBy, string])[] = [
  ['dataset', 'Dataset'],
  ['cluster', 'Cluster']
];

const FACET_CHOICES: readonly (readonly [DualFacetBy, string])[] = [
  ['none', 'None'],
  ['dataset', 'One per dataset'],
  ['cluster', 'One per cluster'],
  ['dataset_cluster', 'Cluster × dataset']
];

const DENSITY_CHOICES: readonly (readonly [DualDensity, string])[] = [
  ['auto', 'Automatic'],
  ['off', 'Points'],
  ['on', 'Binned density']
];

function DualControls(props: {
  controller: DualController;
  controlId: (name: string) => string;
}): JSX.Element {
  const { controller, controlId } = props;
  const { settings } = controller;
  const { options } = settings;
  const panel = controller.panel;
  const pickGene = (axis: 'geneX' | 'geneY') => (input: string[] | string) => {
    const names = typeof input === 'string' ? [input.trim()] : input;
    const resolved = panel.geneIndex?.resolve(names).found ?? [];
    if (resolved.length > 0) {
      controller.update({ [axis]: resolved[0] });
    }
  };
  return (
    <ControlsForm label="Dual expression options">
      <Field label="Gene X" htmlFor={controlId('gene-x')}>
        <GeneSearch
          id={controlId('gene-x')}
          index={panel.geneIndex}
          limit={20}
          selected={[settings.geneX ?? '']}
          value={settings.geneX}
          onAdd={pickGene('geneX')}
        />
      </Field>
      <button
        id={controlId('swap')}
        className="jp-mod-styled"
        type="button"
        title="Swap gene X and gene Y"
        onClick={() => controller.swap()}
      >
        ⇄ Swap
      </button>
      <Field label="Gene Y" htmlFor={controlId('gene-y')}>
        <GeneSearch
          id={controlId('gene-y')}
          index={panel.geneIndex}
          limit={20}
          selected={[settings.geneY ?? '']}
          value={settings.geneY}
          onAdd={pickGene('geneY')}
        />
      </Field>
      <MatrixField id={controlId('dual-matrix')} panel={panel} />
      <ChoiceField
        id={controlId('color-by')}
        label="Colour by"
        value={options.colorBy}
        choices={COLOR_BY_CHOICES}
        onChange={colorBy => controller.update({ options: { colorBy } })}
      />
      <ChoiceField
        id={controlId('facet-by')}
        label="Facets"
        value={options.facetBy}
        choices={FACET_CHOICES}
        onChange={facetBy => controller.update({ options: { facetBy } })}
      />
      <ClusterListField
        id={controlId('dual-clusters')}
        value={settings.clusterText}
        onCommit={clusterText => controller.update({ clusterText })}
      />
      <ChoiceField
        id={controlId('density')}
        label="Density"
        value={options.density}
        choices={DENSITY_CHOICES}
        onChange={density => controller.update({ options: { density } })}
      />
      <ChoiceField
        id={controlId('embedding')}
        label="Embedding"
        value={settings.embedding ?? ''}
        choices={[
          ['', 'None'] as const,
          ...(panel.description?.embeddings ?? []).map(
            e => [e.name, e.name] as const
          )
        ]}
        onChange={embedding =>
          controller.update({ embedding: embedding || null })
        }
      />
      <fieldset>
        <legend>Show</legend>
        <CheckboxField
          id={controlId('detected-only')}
          label="Only cells expressing both"
          checked={options.detectedOnly}
          onChange={detectedOnly =>
            controller.update({ options: { detectedOnly } })
          }
        />
        <CheckboxField
          id={controlId('jitter')}
          label="Jitter zeros"
          checked={options.jitter}
          onChange={jitter => controller.update({ options: { jitter } })}
        />
        <CheckboxField
          id={controlId('marginals')}
          label="Marginal distributions"
          checked={options.marginals}
          onChange={marginals => controller.update({ options: { marginals } })}
        />
      </fieldset>
    </ControlsForm>
  );
}

function countSelected(selected: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < selected.length; i++) {
    n += selected[i];
  }
  return n;
}
