/** Form controls shared by the plot views (labelled, keyboard reachable). */
import * as React from 'react';

import { Field } from '../panel/components';
import type { ExprscopeSession } from '../session/session';

/** A labelled drop-down over fixed choices. */
export function ChoiceField<T extends string>(props: {
  id: string;
  label: string;
  value: T;
  choices: readonly (readonly [T, string])[];
  onChange: (value: T) => void;
}): JSX.Element {
  return (
    <Field label={props.label} htmlFor={props.id}>
      <select
        id={props.id}
        className="jp-mod-styled"
        value={props.value}
        onChange={e => props.onChange(e.target.value as T)}
      >
        {props.choices.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
    </Field>
  );
}

/** The matrix of the sidebar's selection (X, raw, layers), shared by every view. */
export function MatrixField(props: {
  id: string;
  panel: ExprscopeSession;
}): JSX.Element {
  const { panel } = props;
  return (
    <ChoiceField
      id={props.id}
      label="Matrix"
      value={panel.selection.matrix}
      choices={panel.matrices.map(m => [m.id, m.label] as const)}
      onChange={matrix => panel.setMatrix(matrix)}
    />
  );
}

/** Clusters to keep, typed ("0,3,7"); applied on Enter or when leaving the field. */
export function ClusterListField(props: {
  id: string;
  value: string;
  onCommit: (text: string) => void;
  /** id of a <datalist> of cluster names to suggest. */
  list?: string;
}): JSX.Element {
  const [text, setText] = React.useState(props.value);
  React.useEffect(() => setText(props.value), [props.value]);
  return (
    <Field label="Clusters" htmlFor={props.id}>
      <input
        id={props.id}
        className="jp-mod-styled"
        type="text"
        placeholder="all (or e.g. 0,3,7)"
        list={props.list}
        value={text}
        onChange={e => setText(e.target.value)}
        onBlur={() => props.onCommit(text)}
        onKeyDown={e => {
          if (e.key === 'Enter') {
            props.onCommit(text);
          }
        }}
      />
    </Field>
  );
}

/** An option ticked on or off, its label after the box. */
export function CheckboxField(props: {
  id: string;
  label: string;
  checked: boolean;
  onChange: (checked: boolean) => void;
}): JSX.Element {
  return (
    <label>
      <input
        id={props.id}
        type="checkbox"
        checked={props.checked}
        onChange={e => props.onChange(e.target.checked)}
      />{' '}
      {props.label}
    </label>
  );
}

/** A plot's options: every control applies at once, so the form is never submitted. */
export function ControlsForm(props: {
  label: string;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <form
      className="jp-exprscope-controls"
      aria-label={props.label}
      onSubmit={e => e.preventDefault()}
    >
      {props.children}
    </form>
  );
}
