/**
 * The heatmap's "Conserved and dataset-specific markers" section: closed until asked for
 * (its tests need every gene), then one table per cluster.
 */
import * as React from 'react';

import type { IConservedMarkers, IConservedRow } from '../../compute/conserved';
import { ChoiceField } from '../controls';
import { formatP } from '../dual/figure';
import { PlotStatus } from '../PlotWidget';
import type { CombineMethod } from '../../compute/conserved';
import type { ConservedMarkersController } from './conservedController';

const COMBINE_LABELS: readonly (readonly [CombineMethod, string])[] = [
  ['max', 'Largest p (conserved in every dataset)'],
  ['fisher', "Fisher's method (pooled evidence)"]
];

/** Redrawn by the heatmap view, which redraws whenever the table's controller changes. */
export function ConservedMarkersSection(props: {
  controller: ConservedMarkersController;
  /** Rows per cluster: the heatmap's top N. */
  n: number;
  /** Clusters the heatmap keeps; null: all. */
  clusters: readonly string[] | null;
  controlId: (name: string) => string;
}): JSX.Element {
  const { controller, n, clusters, controlId } = props;
  React.useEffect(() => {
    if (controller.settings.n !== n) {
      controller.update({ n });
    }
  }, [controller, n]);
  const { settings, state } = controller;
  const unavailable = controller.unavailableReason();
  const result = state.result;
  return (
    <details
      className="jp-exprscope-conserved"
      open={settings.open}
      onToggle={e => {
        const open = (e.currentTarget as HTMLDetailsElement).open;
        if (open !== controller.settings.open) {
          controller.update({ open });
        }
      }}
    >
      <summary>Conserved and dataset-specific markers</summary>
      {unavailable !== null ? (
        <p className="jp-exprscope-conserved-note">{unavailable}</p>
      ) : (
        <>
          <div className="jp-exprscope-plot-controls">
            <ChoiceField
              id={controlId('conserved-combine')}
              label="Combined p"
              value={settings.combine}
              choices={COMBINE_LABELS}
              onChange={combine => controller.update({ combine })}
            />
          </div>
          <PlotStatus status={state.status} message={state.message} />
          {result && state.status === 'ready' && (
            <ConservedTables result={result} clusters={clusters} />
          )}
        </>
      )}
    </details>
  );
}

/** What the tables mean, then per cluster its conserved and specific genes. */
function ConservedTables(props: {
  result: IConservedMarkers;
  clusters: readonly string[] | null;
}): JSX.Element {
  const { result } = props;
  const shown = result.clusters.filter(
    c => props.clusters === null || props.clusters.includes(c)
  );
  const byCluster = new Map<string, IConservedRow[]>();
  for (const row of result.rows) {
    const rows = byCluster.get(row.cluster) ?? [];
    rows.push(row);
    byCluster.set(row.cluster, rows);
  }
  return (
    <div className="jp-exprscope-conserved-tables">
      <p className="jp-exprscope-conserved-note">
        Within each dataset, each cluster's cells against the dataset's other
        cells: Welch's t-test (scanpy's <code>rank_genes_groups</code> t-test),
        Benjamini–Hochberg per test. <b>Conserved</b>: up (adjusted p &lt;{' '}
        {result.alpha}, log2FC &gt; 0) in every dataset, ordered by{' '}
        {result.combine === 'max'
          ? "the largest p (Seurat's FindConservedMarkers max_pval)"
          : "Fisher's combined p"}
        . <b>Specific</b>: up in one dataset only (not significant or down in
        the others, which is not proof of absence: read the fold changes).
        Datasets where a cluster or its rest has fewer than {result.minCells}{' '}
        cells are left out of that cluster.
      </p>
      {result.leftOut.length > 0 && (
        <p className="jp-exprscope-conserved-note">
          Left out:{' '}
          {result.leftOut
            .map(
              l =>
                `cluster ${l.cluster} in ${l.dataset} (${l.nCells} cells, rest ${l.nRest})`
            )
            .join('; ')}
          .
          {result.untestedClusters.length > 0 &&
            ` Not compared (in fewer than two datasets): ${result.untestedClusters.join(', ')}.`}
        </p>
      )}
      {shown.map(cluster => (
        <ClusterTable
          key={cluster}
          cluster={cluster}
          datasets={result.datasets}
          rows={byCluster.get(cluster) ?? []}
          untested={result.untestedClusters.includes(cluster)}
        />
      ))}
    </div>
  );
}

function ClusterTable(props: {
  cluster: string;
  datasets: readonly string[];
  rows: readonly IConservedRow[];
  untested: boolean;
}): JSX.Element | null {
  const { cluster, datasets, rows, untested } = props;
  if (untested) {
    return null;
  }
  const label = (row: IConservedRow): string =>
    row.category === 'conserved' ? 'conserved' : `only in ${row.specificTo}`;
  return (
    <table
      className="jp-exprscope-stats jp-exprscope-conserved-table"
      aria-label={`Conserved and dataset-specific markers of cluster ${cluster}`}
      data-cluster={cluster}
    >
      <caption>Cluster {cluster}</caption>
      <thead>
        <tr>
          <th scope="col">Gene</th>
          <th scope="col">Marker</th>
          <th scope="col">Combined p</th>
          {datasets.map(d => (
            <th scope="col" key={d}>
              {d}: log2FC (adj. p)
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.length === 0 && (
          <tr>
            <td colSpan={3 + datasets.length}>
              No gene is up in every dataset or in one only.
            </td>
          </tr>
        )}
        {rows.map(row => (
          <tr
            key={`${row.category}|${row.specificTo ?? ''}|${row.gene}`}
            data-gene={row.gene}
            data-category={row.category}
            data-specific-to={row.specificTo ?? ''}
            data-combined-p={row.combinedP}
          >
            <th scope="row">{row.gene}</th>
            <td>{label(row)}</td>
            <td>{formatP(row.combinedP)}</td>
            {row.perDataset.map(v => (
              <td key={v.dataset}>
                {v.tested
                  ? `${v.logFoldChange.toFixed(2)} (${formatP(v.pvalAdj)})`
                  : 'left out'}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
