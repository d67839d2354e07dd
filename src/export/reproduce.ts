/**
 * Code that reproduces a plot with the exprscope API ("Insert into notebook"): a Python
 * call (`exprscope.heatmap(...)`) for Python kernels, an R call
 * (`exprscope_heatmap(...)`, the functions the R setup snippet attaches) for R kernels.
 *
 * Every value comes from the data or the user (gene, cluster and column names), so
 * nothing is pasted into the code as is: strings become literals that only use escapes
 * for anything but visible characters, and the object name becomes an identifier only
 * when it is a plain one, else a `globals()` / `get()` lookup.
 */
import { IPlotSpec, ISpecArgument, specArguments } from '../plots/spec';

/**
 * The plot cannot be reproduced in the language asked for (an R object in Python, an
 * AnnData object or a string R cannot hold in R).
 */
export class ReproduceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReproduceError';
  }
}

const PYTHON_KEYWORDS = new Set(
  (
    'False None True and as assert async await break class continue def del elif else ' +
    'except finally for from global if import in is lambda nonlocal not or pass raise ' +
    'return try while with yield'
  ).split(' ')
);

/**
 * Characters written as they are: letters, marks, numbers, punctuation, symbols and the
 * space. Everything else (controls, line and paragraph separators such as U+2028,
 * format characters such as bidi overrides, lone surrogates, unassigned) is escaped, so
 * the literal reads the same in any editor and cannot end early.
 */
const VISIBLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

const SHORT_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '"': '\\"',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t'
};

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** A double-quoted Python 3 string literal whose value is exactly `text`. */
export function pyString(text: string): string {
  let out = '"';
  // for..of walks code points: a surrogate pair is one character, a lone surrogate too
  for (const c of text) {
    const short = SHORT_ESCAPES[c];
    if (short !== undefined) {
      out += short;
      continue;
    }
    if (VISIBLE.test(c)) {
      out += c;
      continue;
    }
    const cp = c.codePointAt(0)!;
    out +=
      cp < 0x100
        ? '\\x' + hex(cp, 2)
        : cp < 0x10000
          ? '\\u' + hex(cp, 4)
          : '\\U' + hex(cp, 8);
  }
  return out + '"';
}

/** `name` itself when it is a plain Python identifier (ASCII, not a keyword). */
export function isPlainIdentifier(name: string): boolean {
  // ASCII only: Python NFKC-normalises non-ASCII identifiers, so "ﬁ" would name "fi"
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !PYTHON_KEYWORDS.has(name);
}

/** Python expression for the kernel object named `name`. */
export function pyObject(name: string): string {
  return isPlainIdentifier(name) ? name : `globals()[${pyString(name)}]`;
}

type PyValue = string | number | boolean | null | readonly string[];

/** How one language writes the literals of spec values. */
interface ILiterals {
  language: string;
  none: string;
  true: string;
  false: string;
  string: (text: string) => string;
  list: (items: readonly string[]) => string;
}

/** `value` as a literal of `literals`' language. */
function literal(value: PyValue, literals: ILiterals): string {
  if (value === null) {
    return literals.none;
  }
  if (typeof value === 'boolean') {
    return value ? literals.true : literals.false;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new ReproduceError(`${value} has no ${literals.language} literal.`);
    }
    // JS prints the shortest text that reads back as the same double, as Python and R do
    return String(value);
  }
  if (typeof value === 'string') {
    return literals.string(value);
  }
  return literals.list(value);
}

const PYTHON_LITERALS: ILiterals = {
  language: 'Python',
  none: 'None',
  true: 'True',
  false: 'False',
  string: pyString,
  list: items => `[${items.map(pyString).join(', ')}]`
};

/** A Python literal for a spec value. */
export function pyValue(value: PyValue): string {
  return literal(value, PYTHON_LITERALS);
}

/** The `layer` / `use_raw` arguments for a matrix id. */
function matrixArguments(matrix: string): [string, PyValue][] {
  if (matrix === 'X') {
    return [
      ['layer', null],
      ['use_raw', false]
    ];
  }
  if (matrix === 'raw') {
    return [
      ['layer', null],
      ['use_raw', true]
    ];
  }
  if (matrix.startsWith('layers/') && matrix.length > 'layers/'.length) {
    return [['layer', matrix.slice('layers/'.length)]];
  }
  throw new ReproduceError(
    `The matrix "${matrix}" is not an AnnData matrix (X, raw or layers/<name>): there is no Python reproduction for R objects.`
  );
}

function call(
  fn: string,
  positional: string[],
  keywords: [string, PyValue][]
): string {
  const lines = [
    ...positional,
    ...keywords.map(([key, value]) => `${key}=${pyValue(value)}`)
  ];
  return `exprscope.${fn}(\n${lines.map(line => `    ${line},`).join('\n')}\n)`;
}

/** Whether `argument` is passed for `spec` (its schema conditions). */
function isPassed(spec: IPlotSpec, argument: ISpecArgument): boolean {
  const holds = ([key, values]: [string, string[]]) =>
    values.includes(String(spec[key as keyof IPlotSpec]));
  return (
    Object.entries(argument.when ?? {}).every(holds) &&
    !Object.entries(argument.unless ?? {}).some(holds)
  );
}

/**
 * The spec's named arguments in `language`, from the schema (`specArguments`: names, order,
 * conditions, the value spelled None / NULL); `positional` keys are written before them.
 */
function namedArguments(
  spec: IPlotSpec,
  language: ReproduceLanguage,
  positional: readonly string[]
): [string, PyValue][] {
  const named: [string, PyValue][] = [];
  for (const argument of specArguments(spec.kind)) {
    if (positional.includes(argument.key) || !isPassed(spec, argument)) {
      continue;
    }
    let value = spec[argument.key as keyof IPlotSpec] as PyValue;
    if (argument.nullValue !== undefined && value === argument.nullValue) {
      value = null;
    }
    if (argument.key === 'matrix') {
      named.push(
        ...(language === 'python'
          ? matrixArguments(spec.matrix)
          : [[argument.r, rMatrix(spec.matrix)] as [string, PyValue]])
      );
    } else {
      named.push([language === 'python' ? argument.python : argument.r, value]);
    }
  }
  return named;
}

/** `exprscope.heatmap(adata, genes, ...)` / `exprscope.dual_expression(adata, x, y, ...)`. */
function pythonCall(spec: IPlotSpec): string {
  const positional =
    spec.kind === 'heatmap'
      ? spec.gene_source === 'selected'
        ? ['genes']
        : []
      : ['gene_x', 'gene_y'];
  return call(
    spec.kind,
    [
      pyObject(spec.object),
      ...positional.map(key => pyValue(spec[key as keyof IPlotSpec] as PyValue))
    ],
    namedArguments(spec, 'python', ['object', ...positional])
  );
}

// -- R -------------------------------------------------------------------------------

/** The languages code is generated for (a kernel's `language_info.name`, lower case). */
export type ReproduceLanguage = 'python' | 'r';

/** The reproduction language of a kernel language name ("python", "R"), or null. */
export function reproduceLanguage(
  kernelLanguage: string
): ReproduceLanguage | null {
  const name = kernelLanguage.trim().toLowerCase();
  return name === 'python' || name === 'r' ? name : null;
}

const R_RESERVED = new Set(
  (
    'if else repeat while function for next break TRUE FALSE NULL Inf NaN NA ' +
    'NA_integer_ NA_real_ NA_character_ NA_complex_ in'
  ).split(' ')
);

/**
 * A double-quoted R string literal whose value is exactly `text`. Invisible characters
 * are written as `\u{...}` / `\U{...}` (R refuses to mix them with `\x` escapes in one
 * string). R strings cannot hold NUL or unpaired surrogates: a `ReproduceError` then.
 */
export function rString(text: string): string {
  let out = '"';
  for (const c of text) {
    const short = SHORT_ESCAPES[c]; // the same in R
    if (short !== undefined) {
      out += short;
      continue;
    }
    const cp = c.codePointAt(0)!;
    if (cp === 0) {
      throw new ReproduceError(
        'A name contains a NUL character, which R strings cannot hold: there is no R reproduction.'
      );
    }
    if (cp >= 0xd800 && cp <= 0xdfff) {
      throw new ReproduceError(
        'A name contains an unpaired UTF-16 surrogate, which R strings cannot hold: there is no R reproduction.'
      );
    }
    if (VISIBLE.test(c)) {
      out += c;
      continue;
    }
    out += cp < 0x10000 ? `\\u{${hex(cp, 4)}}` : `\\U{${hex(cp, 8)}}`;
  }
  return out + '"';
}

/**
 * `name` is a syntactic R name (what `make.names` keeps): ASCII letters, digits, `.` and
 * `_`, starting with a letter or a dot not followed by a digit, not a reserved word.
 * ASCII only: which other letters R accepts depends on the locale.
 */
export function isSyntacticRName(name: string): boolean {
  return (
    /^(?:[A-Za-z]|\.(?![0-9]))[A-Za-z0-9._]*$/.test(name) &&
    !R_RESERVED.has(name) &&
    !/^\.\.(?:\.|[0-9]+)$/.test(name)
  );
}

/** R expression for the global variable named `name`. */
export function rObject(name: string): string {
  return isSyntacticRName(name)
    ? name
    : `get(${rString(name)}, envir = globalenv())`;
}

const R_LITERALS: ILiterals = {
  language: 'R',
  none: 'NULL',
  true: 'TRUE',
  false: 'FALSE',
  string: rString,
  list: items =>
    items.length === 0 ? 'character(0)' : `c(${items.map(rString).join(', ')})`
};

/** An R literal for a spec value (string arrays as `c(...)`). */
export function rValue(value: PyValue): string {
  return literal(value, R_LITERALS);
}

function rMatrix(matrix: string): string {
  if (matrix === 'X' || matrix === 'raw') {
    throw new ReproduceError(
      `The matrix "${matrix}" is an AnnData matrix: there is no R reproduction for AnnData objects.`
    );
  }
  return matrix;
}

function rCall(fn: string, object: string, named: [string, PyValue][]): string {
  const lines = [
    rObject(object),
    ...named.map(([key, value]) => `${key} = ${rValue(value)}`)
  ];
  // No trailing comma: R would read it as one more, empty, argument.
  return `${fn}(\n${lines.map(line => `  ${line}`).join(',\n')}\n)`;
}

/**
 * Code that draws the plot of `spec` with the exprscope API of `language` (default
 * Python): `import exprscope` and an `exprscope.heatmap(...)` /
 * `exprscope.dual_expression(...)` call, or an R `exprscope_heatmap(...)` /
 * `exprscope_dual_expression(...)` call. Throws a `ReproduceError` with a message for
 * the user when there is none (an R object in Python, an AnnData object in R).
 */
export function reproduceCode(
  spec: IPlotSpec,
  language: ReproduceLanguage = 'python'
): string {
  if (language === 'r') {
    const fn = `exprscope_${spec.kind}`;
    return `${rCall(fn, spec.object, namedArguments(spec, 'r', ['object']))}\n`;
  }
  return `import exprscope\n\n${pythonCall(spec)}\n`;
}
