/**
 * The heatmap / dot plot in the main area: its controls, the plot and what the plot means
 * (matrix, marker source, notes on missing genes and masked columns).
 */
import * as React from 'react';

import { Field, GeneListField } from '../../panel/components';
import {
  CheckboxField,
  ChoiceField,
  ClusterListField,
  ControlsForm,
  MatrixField
} from '../controls';
import { PlotlyFigure } from '../PlotlyFigure';
import {
  IPlotViewProps,
  IPlotWidgetOptions,
  PlotNotes,
  PlotStatus,
  PlotWidget
} from '../PlotWidget';
import { readPlotTheme } from '../theme';
import {
  CompareMethodChoice,
  GeneSource,
  HeatmapController,
  MAX_MARKERS,
  IHeatmapState,
  MarkerMethod
} from './controller';
import { estimateTextWidth, heatmapFigure, TextMeasure } from './figure';
import { ConservedMarkersSection } from './conservedTable';
import { markerGenes, markerRowTags } from './markers';
import { HeatmapGroupBy, HeatmapValue, parseClusterList } from './model';

/** The heatmap / dot plot in the main area, driven by the sidebar's selection. */
export class HeatmapWidget extends PlotWidget<HeatmapController> {
  constructor(options: IPlotWidgetOptions<HeatmapController>) {
    super(options, {
      id: 'exprscope-heatmap',
      label: 'Expression heatmap',
      className: 'jp-exprscope-heatmap',
      view: HeatmapView
    });
  }
}

const GROUP_BY_LABELS: Record<HeatmapGroupBy, string> = {
  cluster: 'Clusters',
  dataset: 'Datasets',
  dataset_cluster: 'Dataset × cluster'
};

const SCALING_CHOICES = [
  ['none', 'None'],
  ['zscore', 'z-score per gene'],
  ['minmax', 'Min–max per gene (0–1)']
] as const;

/** The entries of a label table, typed by its keys. */
function entries<T extends string>(
  labels: Record<T, string>
): (readonly [T, string])[] {
  return Object.entries(labels) as [T, string][];
}

const VALUE_LABELS: Record<HeatmapValue, string> = {
  mean: 'Mean (stored values)',
  linear_mean: 'Mean in linear space (Seurat)',
  fraction: 'Fraction expressing',
  dot: 'Dot plot (mean and fraction)',
  log2fc: 'log2 fold change between datasets'
};

const METHOD_LABELS: Record<CompareMethodChoice, string> = {
  auto: 'Pseudobulk with a sample column, else Wilcoxon',
  pseudobulk: 'Pseudobulk DESeq2 (needs ≥ 2 samples per dataset)',
  wilcoxon: 'Wilcoxon rank-sum on cells'
};

const MARKER_METHOD_LABELS: Record<MarkerMethod, string> = {
  auto: 'Stored result, else t-test (fast, in the browser)',
  't-test': 'Welch t-test (fast, in the browser)',
  wilcoxon: 'Wilcoxon rank-sum (in the kernel)'
};

function HeatmapView(props: IPlotViewProps<HeatmapController>): JSX.Element {
  const { controller, themeVersion, embedded, controlId } = props;
  const { settings, state } = controller;
  const panel = controller.panel;
  const model = state.model;
  const rowTags = React.useMemo(
    () => markerRowTags(state.markers),
    [state.markers]
  );
  // Markers mode: each row's strip has the colour of the (first) cluster it marks
  const rowClusters = React.useMemo(
    () => new Map(markerGenes(state.markers).map(m => [m.gene, m.clusters[0]])),
    [state.markers]
  );
  const clusterColumn = panel.groupingColumns.find(
    c => c.name === panel.selection.clusterColumn
  );
  const datasetColumn = panel.groupingColumns.find(
    c => c.name === panel.selection.datasetColumn
  );
  const [host, width] = useWidth();
  // The form folds away to give the plot the view (its summary says what is set)
  const [settingsOpen, setSettingsOpen] = React.useState(true);
  const markersMode = settings.geneSource === 'markers';
  const figure = React.useMemo(
    () =>
      model
        ? heatmapFigure(model, {
            theme: readPlotTheme(),
            title: plotTitle(state),
            rowTags: markersMode ? rowTags : undefined,
            rowClusters: markersMode ? rowClusters : undefined,
            measureText: canvasTextMeasure(readPlotTheme().fontFamily),
            width: width ?? undefined,
            datasetCategories: datasetColumn?.categories?.map(c => c.name),
            clusterCategories: clusterColumn?.categories?.map(c => c.name)
          })
        : null,
    // The theme is read at render time; its version says when to read it again.
    [
      model,
      rowTags,
      rowClusters,
      markersMode,
      themeVersion,
      width,
      datasetColumn,
      clusterColumn
    ]
  );
  return (
    <div className="jp-exprscope-plot-panel" ref={host}>
      <details
        className="jp-exprscope-settings"
        open={settingsOpen}
        onToggle={e =>
          setSettingsOpen((e.currentTarget as HTMLDetailsElement).open)
        }
      >
        <summary>
          Settings
          {!settingsOpen && (
            <span className="jp-exprscope-settings-summary">
              {' '}
              · {settingsSummary(settings)}
            </span>
          )}
        </summary>
        <HeatmapControls
          controller={controller}
          embedded={embedded}
          controlId={controlId}
        />
      </details>
      <PlotStatus status={state.status} message={state.message}>
        {state.status === 'loading' &&
          (settings.options.value === 'log2fc' ||
            (settings.geneSource === 'markers' &&
              settings.markerMethod === 'wilcoxon')) && (
            <button
              type="button"
              className="jp-mod-styled jp-exprscope-cancel"
              onClick={() => controller.cancel()}
            >
              Cancel
            </button>
          )}
        {state.status === 'idle' && settings.options.value === 'log2fc' && (
          <button
            type="button"
            className="jp-mod-styled"
            onClick={() => controller.redraw()}
          >
            Redraw
          </button>
        )}
      </PlotStatus>
      {model && (
        <>
          {state.markerSource && settings.geneSource === 'markers' && (
            <p className="jp-exprscope-marker-source">
              {state.markerSource.text}. Row tags: the cluster(s) a gene is a
              top-{settings.nMarkers} marker of; ★ = a top marker of that
              cluster in several datasets.
            </p>
          )}
          <PlotNotes notes={model.notes} />
          {figure && model.genes.length > 0 && model.columns.length > 0 && (
            <PlotlyFigure
              figure={figure}
              className="jp-exprscope-heatmap-figure"
              label={`Heatmap of ${model.genes.length} genes over ${model.columns.length} columns`}
              onRendered={props.onRendered}
            />
          )}
        </>
      )}
      {settings.geneSource === 'markers' &&
        settings.options.value !== 'log2fc' && (
          <ConservedMarkersSection
            controller={controller.conserved}
            n={settings.nMarkers}
            clusters={
              parseClusterList(
                settings.clusterText,
                clusterColumn?.categories?.map(c => c.name) ?? []
              ).clusters
            }
            controlId={controlId}
          />
        )}
      {clusterColumn?.categories && (
        <datalist id={controlId('cluster-names')}>
          {clusterColumn.categories.map(c => (
            <option key={c.name} value={c.name} />
          ))}
        </datalist>
      )}
    </div>
  );
}

/** One line saying what the folded settings are set to. */
function settingsSummary(settings: HeatmapController['settings']): string {
  const { options } = settings;
  const genes =
    settings.geneSource === 'markers'
      ? `top ${settings.nMarkers} per cluster`
      : 'chosen genes';
  const scaling =
    SCALING_CHOICES.find(([value]) => value === options.scaling)?.[1] ?? '';
  return [
    genes,
    GROUP_BY_LABELS[options.groupBy],
    VALUE_LABELS[options.value],
    options.value === 'log2fc' ? null : `scaling: ${scaling.toLowerCase()}`
  ]
    .filter(Boolean)
    .join(' · ');
}

/**
 * The width of an element, in steps of 40 px (so that dragging a panel's edge does not
 * rebuild the figure at every pixel); null until measured.
 */
function useWidth(): [React.RefObject<HTMLDivElement>, number | null] {
  const ref = React.useRef<HTMLDivElement>(null);
  const [width, setWidth] = React.useState<number | null>(null);
  // Measured before the first paint, so the first draw already has the view's width (a
  // width found after it would cost a second full draw).
  React.useLayoutEffect(() => {
    const node = ref.current;
    if (!node) {
      return;
    }
    const measure = () => {
      const stepped = Math.floor(node.clientWidth / 40) * 40;
      if (stepped > 0) {
        setWidth(previous => (previous === stepped ? previous : stepped));
      }
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(node);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

function HeatmapControls(props: {
  controller: HeatmapController;
  embedded: boolean;
  controlId: (name: string) => string;
}): JSX.Element {
  const { controller, embedded, controlId } = props;
  const { settings } = controller;
  const { options } = settings;
  const panel = controller.panel;
  const selection = panel.selection;
  const clusters =
    panel.groupingColumns
      .find(c => c.name === selection.clusterColumn)
      ?.categories?.map(c => c.name) ?? [];
  const update = (patch: Parameters<HeatmapController['update']>[0]) =>
    controller.update(patch);
  const difference = options.value === 'log2fc';
  const datasets =
    panel.groupingColumns
      .find(c => c.name === selection.datasetColumn)
      ?.categories?.map(c => c.name) ?? [];
  const comparison = settings.comparison;
  const reference = comparison.reference ?? datasets[0] ?? '';
  const kept = new Set(
    parseClusterList(settings.clusterText, clusters).clusters ?? []
  );
  const toggleCluster = (name: string) => {
    // Nothing typed means every cluster is kept: unticking one keeps the others.
    const base = kept.size > 0 ? kept : new Set(clusters);
    const next = clusters.filter(c =>
      c === name ? !base.has(c) : base.has(c)
    );
    const text = next.length === clusters.length ? '' : next.join(', ');
    update({ clusterText: text });
  };
  return (
    <ControlsForm label="Heatmap options">
      <fieldset>
        <legend>Genes</legend>
        <label>
          <input
            type="radio"
            name={controlId('gene-source')}
            checked={settings.geneSource === 'selected'}
            onChange={() => update({ geneSource: 'selected' as GeneSource })}
          />{' '}
          {embedded ? 'Chosen' : 'Chosen in the sidebar'} (
          {selection.genes.length})
        </label>
        {embedded && <GeneListField panel={panel} />}
        <label>
          <input
            type="radio"
            name={controlId('gene-source')}
            checked={settings.geneSource === 'markers'}
            onChange={() => update({ geneSource: 'markers' as GeneSource })}
          />{' '}
          Top
          <input
            id={controlId('n-markers')}
            className="jp-exprscope-number"
            type="number"
            min={1}
            max={MAX_MARKERS}
            aria-label="Markers per cluster"
            value={settings.nMarkers}
            onChange={e => {
              const n = Math.round(Number(e.target.value));
              if (n >= 1 && n <= MAX_MARKERS) {
                update({ nMarkers: n });
              }
            }}
          />{' '}
          {difference ? 'changed genes' : 'markers'} per cluster
        </label>
        {settings.geneSource === 'markers' && !difference && (
          <ChoiceField
            id={controlId('marker-method')}
            label="Marker test"
            value={settings.markerMethod}
            choices={entries(MARKER_METHOD_LABELS)}
            onChange={markerMethod => update({ markerMethod })}
          />
        )}
      </fieldset>
      <MatrixField id={controlId('heatmap-matrix')} panel={panel} />
      <ChoiceField
        id={controlId('value')}
        label="Value"
        value={options.value}
        choices={entries(VALUE_LABELS)}
        onChange={value => update({ options: { ...options, value } })}
      />
      {difference ? (
        <fieldset>
          <legend>Compare datasets</legend>
          <Field label="Reference" htmlFor={controlId('reference')}>
            <select
              id={controlId('reference')}
              className="jp-mod-styled"
              value={reference}
              onChange={e =>
                update({
                  comparison: {
                    reference: e.target.value,
                    target:
                      comparison.target === e.target.value
                        ? null
                        : comparison.target
                  }
                })
              }
            >
              {datasets.map(name => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Target" htmlFor={controlId('target')}>
            <select
              id={controlId('target')}
              className="jp-mod-styled"
              value={comparison.target ?? ''}
              onChange={e =>
                update({
                  comparison: { target: e.target.value || null }
                })
              }
            >
              <option value="">
                {datasets.length === 2
                  ? (datasets.find(d => d !== reference) ?? 'the other dataset')
                  : 'the other dataset'}
              </option>
              {datasets
                .filter(name => name !== reference)
                .map(name => (
                  <option key={name} value={name}>
                    {name}
                  </option>
                ))}
            </select>
          </Field>
          <ChoiceField
            id={controlId('compare-method')}
            label="Test"
            value={comparison.method}
            choices={entries(METHOD_LABELS)}
            onChange={method => update({ comparison: { method } })}
          />
          <p className="jp-exprscope-hint">
            Samples:{' '}
            {selection.sampleColumn
              ? `'${selection.sampleColumn}'`
              : 'none (choose a sample column in the sidebar for pseudobulk)'}
          </p>
        </fieldset>
      ) : (
        <ChoiceField
          id={controlId('group-by')}
          label="Columns"
          value={options.groupBy}
          choices={entries(GROUP_BY_LABELS)}
          onChange={groupBy => update({ options: { ...options, groupBy } })}
        />
      )}
      {!difference && (
        <ChoiceField
          id={controlId('scaling')}
          label="Scale rows"
          value={options.scaling}
          choices={SCALING_CHOICES}
          onChange={scaling => update({ options: { ...options, scaling } })}
        />
      )}
      {!difference && options.scaling === 'zscore' && (
        <Field label="Clip at ±" htmlFor={controlId('clip')}>
          <input
            id={controlId('clip')}
            className="jp-exprscope-number"
            type="number"
            min={0}
            step={0.5}
            value={options.zscoreClip}
            onChange={e => {
              const clip = Number(e.target.value);
              if (Number.isFinite(clip) && clip >= 0) {
                update({ options: { ...options, zscoreClip: clip } });
              }
            }}
          />
        </Field>
      )}
      <Field
        label={
          difference
            ? 'Min cells (per sample and dataset)'
            : 'Min cells per column'
        }
        htmlFor={controlId('min-cells')}
      >
        <input
          id={controlId('min-cells')}
          className="jp-exprscope-number"
          type="number"
          min={0}
          value={options.minCells}
          onChange={e => {
            const n = Math.round(Number(e.target.value));
            if (n >= 0) {
              update({ options: { ...options, minCells: n } });
            }
          }}
        />
      </Field>
      <ClusterListField
        id={controlId('clusters')}
        list={controlId('cluster-names')}
        value={settings.clusterText}
        onCommit={clusterText => update({ clusterText })}
      />
      {clusters.length > 0 && (
        <details className="jp-exprscope-cluster-list">
          <summary>Tick clusters</summary>
          {clusters.map(name => (
            <label key={name}>
              <input
                type="checkbox"
                checked={kept.size === 0 || kept.has(name)}
                onChange={() => toggleCluster(name)}
              />{' '}
              {name}
            </label>
          ))}
        </details>
      )}
      <fieldset>
        <legend>Order</legend>
        <CheckboxField
          id={controlId('cluster-genes')}
          label="Cluster genes"
          checked={options.clusterGenes}
          onChange={clusterGenes =>
            update({ options: { ...options, clusterGenes } })
          }
        />
        <CheckboxField
          id={controlId('cluster-columns')}
          label="Cluster columns"
          checked={options.clusterColumns}
          onChange={clusterColumns =>
            update({ options: { ...options, clusterColumns } })
          }
        />
        <select
          id={controlId('metric')}
          className="jp-mod-styled"
          aria-label="Clustering distance"
          value={options.metric}
          disabled={!options.clusterGenes && !options.clusterColumns}
          onChange={e =>
            update({
              options: {
                ...options,
                metric: e.target.value as 'euclidean' | 'correlation'
              }
            })
          }
        >
          <option value="euclidean">Euclidean, average linkage</option>
          <option value="correlation">Correlation, average linkage</option>
        </select>
      </fieldset>
    </ControlsForm>
  );
}

function plotTitle(state: IHeatmapState): string {
  const model = state.model;
  if (!model) {
    return '';
  }
  const what = VALUE_LABELS[model.options.value];
  return `${state.object ?? ''} · ${state.matrixLabel ?? ''} · ${what}`;
}

let measuringContext: CanvasRenderingContext2D | null | undefined;

/** Text widths as the browser draws them in the plot's font (labels size the margins). */
function canvasTextMeasure(fontFamily: string): TextMeasure {
  if (measuringContext === undefined) {
    measuringContext = document.createElement('canvas').getContext('2d');
  }
  const context = measuringContext;
  return (text, fontSize) => {
    if (!context) {
      return estimateTextWidth(text, fontSize);
    }
    context.font = `${fontSize}px ${fontFamily}`;
    return context.measureText(text).width;
  };
}
