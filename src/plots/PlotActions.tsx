/**
 * The actions every plot offers, in the sidebar's main-area views and in notebook outputs,
 * as one short row (Export, then a "More actions" menu): export a file (PNG, JPEG, TIFF, PDF, SVG at a chosen size and DPI), copy or load the
 * plot's parameters, download the plotted numbers and, where a notebook is at hand, insert
 * a cell that reproduces the plot with the Python API.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import {
  addIcon,
  copyIcon,
  downloadIcon,
  ellipsesIcon,
  fileUploadIcon
} from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import {
  DEFAULT_DPI,
  EXPORT_FORMATS,
  ExportFormat,
  csvFile,
  downloadBlob,
  exportFigure
} from '../export/exportFigure';
import { ActionMenu, IActionMenuItem } from './ActionMenu';
import { IPlotSpec, parseSpec, serializeSpec } from './spec';

/**
 * One table of plotted numbers, offered as a CSV download. The text is built only when
 * asked for: a million cells make a 40 MB CSV, too costly to build on every redraw.
 */
export interface IDataTable {
  /** Label of the download button and part of the file name. */
  name: string;
  /** Data rows (a cheap upper bound of the text's size, see `savePlot`). */
  rows: number;
  csv(): string;
}

/** What a plot lets the actions read and change. */
export interface IPlotActionSource {
  /** The plot's parameters now, or null while nothing is plotted. */
  spec(): IPlotSpec | null;
  /** Show the plot these parameters describe; throws with a message when it cannot. */
  applySpec(spec: IPlotSpec): void;
  /** The plotted numbers. */
  tables(): IDataTable[];
  /** The notes shown with the plot, written into exported files. */
  notes?(): string[];
}

export interface IPlotActionsProps {
  source: IPlotActionSource;
  /** The drawn Plotly element to export, or null before the first draw. */
  graph: () => HTMLElement | null;
  /**
   * Insert a cell reproducing the plot below the active one, in the kernel's language
   * (absent: no notebook to insert in). Throws with a message when it cannot.
   */
  insertCell?: (spec: IPlotSpec) => void;
}

const FORMAT_LABELS: Record<ExportFormat, string> = {
  png: 'PNG',
  jpeg: 'JPEG',
  tiff: 'TIFF',
  pdf: 'PDF (vector)',
  svg: 'SVG (vector)'
};

export function PlotActions(props: IPlotActionsProps): JSX.Element {
  const { source, graph, insertCell } = props;
  const [format, setFormat] = React.useState<ExportFormat>('png');
  const [width, setWidth] = React.useState(0);
  const [height, setHeight] = React.useState(0);
  const [dpi, setDpi] = React.useState(DEFAULT_DPI);
  const [busy, setBusy] = React.useState(false);
  const [message, setMessage] = React.useState<{
    text: string;
    error: boolean;
  } | null>(null);

  const say = (text: string, error = false) => setMessage({ text, error });
  const currentSpec = (): IPlotSpec | null => {
    const spec = source.spec();
    if (!spec) {
      say('Nothing is plotted yet.', true);
    }
    return spec;
  };

  const onExport = async () => {
    const element = graph();
    const spec = currentSpec();
    if (!element || !spec) {
      if (!element) {
        say('Nothing is drawn yet.', true);
      }
      return;
    }
    const rect = element.getBoundingClientRect();
    setBusy(true);
    say(`Exporting ${FORMAT_LABELS[format]}…`);
    try {
      const { blob, fileName } = await exportFigure(
        element,
        format,
        {
          width: width > 0 ? width : Math.round(rect.width),
          height: height > 0 ? height : Math.round(rect.height),
          dpi
        },
        spec,
        { notes: source.notes?.() ?? [] }
      );
      downloadBlob(blob, fileName);
      say(`Saved ${fileName} (${formatBytes(blob.size)}).`);
    } catch (err) {
      say(`Export failed: ${(err as Error)?.message ?? err}`, true);
    } finally {
      setBusy(false);
    }
  };

  const onCopy = async () => {
    const spec = currentSpec();
    if (!spec) {
      return;
    }
    const text = serializeSpec(spec);
    try {
      await navigator.clipboard.writeText(text);
      say('Parameters copied to the clipboard.');
    } catch {
      // Clipboard access can be refused (insecure origin, permissions): show the text.
      await showDialog({
        title: 'Plot parameters',
        body: new TextBody(text, true),
        buttons: [Dialog.okButton()]
      });
    }
  };

  const onLoad = async () => {
    const body = new TextBody('', false);
    const result = await showDialog({
      title: 'Load plot parameters',
      body,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Load' })]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      source.applySpec(parseSpec(JSON.parse(body.value)));
      say('Parameters loaded.');
    } catch (err) {
      say(`Could not load the parameters: ${(err as Error).message}`, true);
    }
  };

  const onInsert = () => {
    const spec = currentSpec();
    if (!spec || !insertCell) {
      return;
    }
    try {
      insertCell(spec);
      say('Inserted a cell that reproduces this plot below the active cell.');
    } catch (err) {
      say((err as Error).message, true);
    }
  };

  // Names only: a table's csv() holds its model, and React keeps the previous render's
  // handlers (a million-cell model kept alive). The table is looked up when clicked.
  const tableNames = source.tables().map(table => table.name);
  const onDownload = (tableName: string) => {
    const spec = currentSpec();
    const table = source
      .tables()
      .find(candidate => candidate.name === tableName);
    if (spec && table) {
      const file = csvFile(table.csv(), spec);
      // One download per table: name the table in the file name.
      const name = file.fileName.replace(/\.csv$/, `-${table.name}.csv`);
      downloadBlob(file.blob, name);
      say(`Saved ${name}.`);
    }
  };
  // Everything but Export sits in one menu, so the actions take a single short row.
  const menuItems: IActionMenuItem[] = [
    {
      key: 'copy',
      label: 'Copy parameters',
      className: 'jp-exprscope-copy-spec',
      icon: copyIcon,
      onSelect: () => void onCopy()
    },
    {
      key: 'load',
      label: 'Load parameters',
      className: 'jp-exprscope-load-spec',
      icon: fileUploadIcon,
      onSelect: () => void onLoad()
    },
    ...tableNames.map((tableName): IActionMenuItem => ({
      key: `data-${tableName}`,
      label: `Download ${tableName} (CSV)`,
      className: 'jp-exprscope-download-data',
      data: { table: tableName },
      icon: downloadIcon,
      onSelect: () => onDownload(tableName)
    })),
    ...(insertCell
      ? [
          {
            key: 'insert',
            label: 'Insert into notebook',
            className: 'jp-exprscope-insert-cell',
            icon: addIcon,
            onSelect: onInsert
          }
        ]
      : [])
  ];
  const exportRef = React.useRef<HTMLDetailsElement>(null);
  const sizeField = (
    className: string,
    label: string,
    value: number,
    set: (n: number) => void
  ) => (
    <label>
      {label}{' '}
      <input
        className={`jp-exprscope-number ${className}`}
        type="number"
        min={0}
        placeholder="as shown"
        value={value > 0 ? value : ''}
        onChange={e => {
          const n = Math.round(Number(e.target.value));
          set(Number.isFinite(n) && n > 0 ? n : 0);
        }}
      />
    </label>
  );
  return (
    <div
      className="jp-exprscope-plot-actions"
      role="group"
      aria-label="Plot actions"
    >
      <details
        ref={exportRef}
        className="jp-exprscope-export"
        onKeyDown={e => {
          // The form floats over the plot: Escape folds it and returns to its button.
          if (e.key === 'Escape' && exportRef.current?.open) {
            e.preventDefault();
            e.stopPropagation();
            exportRef.current.open = false;
            exportRef.current.querySelector('summary')?.focus();
          }
        }}
      >
        <summary
          className="jp-exprscope-export-summary"
          title="Export the plot as PNG, JPEG, TIFF, PDF or SVG"
        >
          <downloadIcon.react tag="span" className="jp-exprscope-icon" />
          Export…
        </summary>
        <form
          className="jp-exprscope-export-form"
          aria-label="Export the plot"
          onSubmit={e => {
            e.preventDefault();
            void onExport();
          }}
        >
          <label>
            Format{' '}
            <select
              className="jp-mod-styled jp-exprscope-export-format"
              value={format}
              onChange={e => setFormat(e.target.value as ExportFormat)}
            >
              {EXPORT_FORMATS.map(f => (
                <option key={f} value={f}>
                  {FORMAT_LABELS[f]}
                </option>
              ))}
            </select>
          </label>
          {sizeField(
            'jp-exprscope-export-width',
            'Width (px)',
            width,
            setWidth
          )}
          {sizeField(
            'jp-exprscope-export-height',
            'Height (px)',
            height,
            setHeight
          )}
          <label>
            DPI{' '}
            <input
              className="jp-exprscope-number jp-exprscope-export-dpi"
              type="number"
              min={1}
              max={2400}
              value={dpi}
              onChange={e => {
                const n = Math.round(Number(e.target.value));
                if (n >= 1 && n <= 2400) {
                  setDpi(n);
                }
              }}
            />
          </label>
          <button
            type="submit"
            className="jp-Button jp-mod-styled jp-mod-accept jp-exprscope-export-button"
            disabled={busy}
          >
            Export
          </button>
        </form>
      </details>
      <ActionMenu label="More actions" icon={ellipsesIcon} items={menuItems} />
      {busy && (
        <span
          className="jp-exprscope-spinner"
          role="progressbar"
          aria-label="Exporting"
        />
      )}
      {message && (
        <span
          className={
            message.error
              ? 'jp-exprscope-error-text'
              : 'jp-exprscope-action-message'
          }
          role="status"
        >
          {message.text}
        </span>
      )}
    </div>
  );
}

function formatBytes(n: number): string {
  return n < 1024 * 1024
    ? `${Math.max(1, Math.round(n / 1024))} KB`
    : `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** A dialog body with a text area: read-only to show text, editable to paste it. */
class TextBody extends Widget {
  constructor(text: string, readOnly: boolean) {
    super({ node: document.createElement('textarea') });
    const area = this.node as HTMLTextAreaElement;
    area.className = 'jp-exprscope-spec-text';
    area.value = text;
    area.readOnly = readOnly;
    area.rows = 14;
    area.setAttribute(
      'aria-label',
      readOnly ? 'Plot parameters' : 'Paste plot parameters (JSON)'
    );
  }

  get value(): string {
    return (this.node as HTMLTextAreaElement).value;
  }
}
