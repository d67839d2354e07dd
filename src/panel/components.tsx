/**
 * Presentational pieces of the sidebar. They receive values and callbacks; all state lives in
 * ExprscopeSession.
 */
import * as React from 'react';

import { BridgeStatus } from '../bridge/kernelBridge';
import { IObsColumn } from '../bridge/protocol';
import { GeneIndex } from '../data/genes';
import {
  ExprscopeSession,
  IPanelMessage,
  formatList
} from '../session/session';

const STATUS_LABELS: Record<BridgeStatus, string> = {
  'no-kernel': 'No kernel',
  connecting: 'Connecting',
  ready: 'Ready',
  busy: 'Kernel busy',
  restarting: 'Restarting',
  dead: 'Kernel dead',
  'unsupported-language': 'Unsupported kernel',
  'not-installed': 'Not installed in kernel',
  error: 'Error'
};

export function StatusLine(props: {
  status: BridgeStatus;
  message: string;
  busyCount: number;
}): JSX.Element {
  const { status, message, busyCount } = props;
  return (
    <div className="jp-exprscope-status" data-status={status} title={message}>
      <span className="jp-exprscope-status-dot" aria-hidden="true" />
      <span className="jp-exprscope-status-label">{STATUS_LABELS[status]}</span>
      {busyCount > 0 && (
        <span
          className="jp-exprscope-spinner"
          role="progressbar"
          aria-label="Waiting for the kernel"
        />
      )}
      <div className="jp-exprscope-status-message">{message}</div>
    </div>
  );
}

export function Messages(props: {
  messages: IPanelMessage[];
  onDismiss: (index: number) => void;
}): JSX.Element | null {
  if (props.messages.length === 0) {
    return null;
  }
  return (
    <ul className="jp-exprscope-messages" aria-live="polite">
      {props.messages.map((m, i) => (
        <li
          key={`${i}-${m.text}`}
          className={`jp-exprscope-message jp-mod-${m.level}`}
        >
          <span>{m.text}</span>
          <button
            className="jp-exprscope-dismiss"
            aria-label="Dismiss message"
            title="Dismiss"
            onClick={() => props.onDismiss(i)}
          >
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}

export function Field(props: {
  label: string;
  htmlFor: string;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <div className="jp-exprscope-field">
      <label htmlFor={props.htmlFor}>{props.label}</label>
      {props.children}
    </div>
  );
}

export function ColumnSelect(props: {
  id: string;
  value: string | null;
  columns: IObsColumn[];
  onChange: (value: string | null) => void;
}): JSX.Element {
  return (
    <select
      id={props.id}
      className="jp-mod-styled"
      value={props.value ?? ''}
      onChange={e => props.onChange(e.target.value || null)}
    >
      <option value="">(none)</option>
      {props.columns.map(c => (
        <option key={c.name} value={c.name}>
          {c.name} ({c.n_unique})
        </option>
      ))}
    </select>
  );
}

/** Category names with cell counts, e.g. "ctrl (1,000) · stim (1,000)". */
export function CategorySummary(props: {
  column: IObsColumn | undefined;
}): JSX.Element | null {
  const categories = props.column?.categories;
  if (!categories) {
    return null;
  }
  const shown = categories.slice(0, 12);
  return (
    <div className="jp-exprscope-categories">
      {shown.map(c => (
        <span
          key={c.name}
          className={
            c.n_cells === 0
              ? 'jp-exprscope-category jp-mod-empty'
              : 'jp-exprscope-category'
          }
        >
          {c.name} <small>({c.n_cells.toLocaleString()})</small>
        </span>
      ))}
      {categories.length > shown.length && (
        <span className="jp-exprscope-category">
          +{categories.length - shown.length} more
        </span>
      )}
    </div>
  );
}

/**
 * Search-as-you-type over all gene names, keyboard driven: arrows move, Enter adds the
 * highlighted gene (or the typed list when nothing is highlighted), Escape closes.
 */
export function GeneSearch(props: {
  index: GeneIndex | null;
  limit: number;
  selected: string[];
  onAdd: (genes: string[] | string) => void;
  /** Element id of the input (default: the sidebar's gene search). */
  id?: string;
  /** Accessible name, when no visible label names the input. */
  label?: string;
  /**
   * A single choice (a plot's gene X): the chosen gene, shown in the box itself while the
   * user is not typing there. Focusing selects it, so typing replaces it.
   */
  value?: string | null;
}): JSX.Element {
  const [query, setQuery] = React.useState('');
  const [active, setActive] = React.useState(-1);
  // With a value: whether the box holds the user's typing (else it shows the value)
  const [editing, setEditing] = React.useState(false);
  const [typed, setTyped] = React.useState(false);
  const single = props.value !== undefined;
  const searched = !single || typed ? query : '';
  const suggestions = React.useMemo(
    () => (props.index ? props.index.search(searched, props.limit) : []),
    [props.index, searched, props.limit]
  );
  const inputId = props.id ?? 'jp-exprscope-gene-input';
  const listId = `${inputId}-suggestions`;
  const add = (value: string[] | string) => {
    props.onAdd(value);
    setQuery('');
    setActive(-1);
    setEditing(false);
    setTyped(false);
  };
  const onKeyDown = (e: React.KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      setActive(i => Math.min(i + 1, suggestions.length - 1));
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      setActive(i => Math.max(i - 1, -1));
    } else if (e.key === 'Enter') {
      e.preventDefault();
      if (active >= 0 && active < suggestions.length) {
        add([suggestions[active]]);
      } else if (query.trim()) {
        add(query);
      }
    } else if (e.key === 'Escape') {
      setQuery(single ? (props.value ?? '') : '');
      setTyped(false);
      setActive(-1);
    }
  };
  const shown = single && !editing ? (props.value ?? '') : query;
  const selected = new Set(props.selected);
  return (
    <div className="jp-exprscope-gene-search">
      <input
        id={inputId}
        aria-label={props.label}
        className="jp-mod-styled"
        type="search"
        role="combobox"
        aria-expanded={suggestions.length > 0}
        aria-controls={listId}
        aria-autocomplete="list"
        aria-activedescendant={active >= 0 ? `${listId}-${active}` : undefined}
        placeholder={
          props.index
            ? `Search ${props.index.size.toLocaleString()} genes`
            : 'Choose an object first'
        }
        disabled={!props.index}
        value={shown}
        title={single && props.value ? props.value : undefined}
        onFocus={e => {
          if (single) {
            setEditing(true);
            setTyped(false);
            setQuery(props.value ?? '');
            e.target.select();
          }
        }}
        onBlur={() => {
          if (single) {
            setEditing(false);
            setTyped(false);
            setQuery('');
          }
        }}
        onChange={e => {
          setQuery(e.target.value);
          setEditing(true);
          setTyped(true);
          setActive(-1);
        }}
        onKeyDown={onKeyDown}
      />
      {suggestions.length > 0 && (
        <ul id={listId} role="listbox" className="jp-exprscope-suggestions">
          {suggestions.map((gene, i) => (
            <li
              id={`${listId}-${i}`}
              key={gene}
              role="option"
              aria-selected={i === active}
              className={i === active ? 'jp-mod-active' : undefined}
              onMouseDown={e => {
                e.preventDefault(); // keep focus in the input
                add([gene]);
              }}
            >
              {gene}
              {selected.has(gene) && <small> (selected)</small>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function PasteGenes(props: {
  disabled: boolean;
  onAdd: (text: string) => void;
}): JSX.Element {
  const [text, setText] = React.useState('');
  return (
    <details className="jp-exprscope-paste">
      <summary>Paste a gene list</summary>
      <textarea
        id="jp-exprscope-paste-input"
        className="jp-mod-styled"
        rows={4}
        placeholder="ISG15, IFI6, CD3E … (commas, spaces or new lines)"
        value={text}
        disabled={props.disabled}
        onChange={e => setText(e.target.value)}
      />
      <button
        className="jp-mod-styled jp-mod-accept"
        disabled={props.disabled || !text.trim()}
        onClick={() => {
          props.onAdd(text);
          setText('');
        }}
      >
        Add genes
      </button>
    </details>
  );
}

export function GeneChips(props: {
  genes: string[];
  missing: string[];
  onRemove: (gene: string) => void;
  onClear: () => void;
}): JSX.Element | null {
  if (props.genes.length === 0) {
    return null;
  }
  const missing = new Set(props.missing);
  return (
    <div className="jp-exprscope-chips" aria-label="Selected genes">
      {props.genes.map(gene => (
        <span
          key={gene}
          className={
            missing.has(gene)
              ? 'jp-exprscope-chip jp-mod-missing'
              : 'jp-exprscope-chip'
          }
          title={missing.has(gene) ? 'Not available in this matrix' : gene}
        >
          {gene}
          <button
            aria-label={`Remove ${gene}`}
            onClick={() => props.onRemove(gene)}
          >
            ×
          </button>
        </span>
      ))}
      <button className="jp-exprscope-clear" onClick={props.onClear}>
        Clear
      </button>
    </div>
  );
}

export function LoadedSummary(props: {
  nCells: number;
  genes: string[];
  bytes: number;
  matrixLabel: string;
  missing: string[];
  missingReason: Record<string, string>;
}): JSX.Element {
  const { nCells, genes, bytes, matrixLabel, missing, missingReason } = props;
  return (
    <div className="jp-exprscope-loaded">
      <div>
        Loaded {genes.length} gene{genes.length === 1 ? '' : 's'} ×{' '}
        {nCells.toLocaleString()} cells from <code>{matrixLabel}</code> (
        {formatBytes(bytes)}).
      </div>
      {missing.length > 0 && (
        <div className="jp-exprscope-missing">
          Missing from <code>{matrixLabel}</code>:{' '}
          {formatList(
            missing.map(g =>
              missingReason[g] ? `${g} (${missingReason[g]})` : g
            )
          )}
        </div>
      )}
    </div>
  );
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) {
    return `${bytes} B`;
  }
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

let geneListFields = 0;

/**
 * The gene choice of a plot without a sidebar (a notebook output): search, chips and the
 * panel model's messages (unknown genes are reported there, never dropped silently).
 */
export function GeneListField(props: { panel: ExprscopeSession }): JSX.Element {
  const { panel } = props;
  // Several plots share a page: each search input gets its own id.
  const [id] = React.useState(
    () => `jp-exprscope-plot-gene-input-${++geneListFields}`
  );
  return (
    <div className="jp-exprscope-gene-list-field">
      <GeneSearch
        id={id}
        label="Add genes"
        index={panel.geneIndex}
        limit={30}
        selected={panel.selection.genes}
        onAdd={genes => panel.addGenes(genes)}
      />
      <GeneChips
        genes={panel.selection.genes}
        missing={panel.loaded?.missing ?? []}
        onRemove={g => panel.removeGene(g)}
        onClear={() => panel.clearGenes()}
      />
      <Messages
        messages={panel.messages}
        onDismiss={i => panel.dismissMessage(i)}
      />
    </div>
  );
}
