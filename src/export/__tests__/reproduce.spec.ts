import { execFileSync, spawnSync } from 'child_process';

import { IDualSpec, IHeatmapSpec } from '../../plots/spec';
import * as path from 'path';

import {
  isPlainIdentifier,
  isSyntacticRName,
  pyObject,
  pyString,
  ReproduceError,
  reproduceCode,
  reproduceLanguage,
  rObject,
  rString
} from '../reproduce';
import { NASTY_STRINGS, specWith } from './fixtures';

/** python3 on PATH (CI has one); the checks against it skip only without one. */
const PYTHON = (() => {
  const probe = spawnSync('python3', ['--version']);
  return probe.status === 0 ? 'python3' : null;
})();
const withPython = PYTHON ? it : it.skip;

function python(script: string, input: string): string {
  return execFileSync(PYTHON!, ['-c', script], {
    input,
    encoding: 'utf8',
    env: { ...process.env, PYTHONIOENCODING: 'utf-8', PYTHONUTF8: '1' }
  });
}

/**
 * Parse the generated code with Python's own parser (never run it): the one call's
 * positional and keyword arguments, read with ast.literal_eval, as JSON. Object lookups
 * come back as {"name": ...} or {"globals": ...}.
 */
const READ_CALL = `
import ast, json, sys
tree = ast.parse(sys.stdin.read())
imports = [n for n in tree.body if isinstance(n, ast.Import)]
calls = [n.value for n in tree.body if isinstance(n, ast.Expr)]
assert [a.name for i in imports for a in i.names] == ["exprscope"], "imports"
assert len(tree.body) == 2 and len(calls) == 1, "one import and one call"
call = calls[0]
assert isinstance(call.func, ast.Attribute) and call.func.value.id == "exprscope"
def value(node):
    if isinstance(node, ast.Name):
        return {"name": node.id}
    if isinstance(node, ast.Subscript):
        assert isinstance(node.value, ast.Call) and node.value.func.id == "globals"
        assert not node.value.args
        return {"globals": ast.literal_eval(node.slice)}
    return ast.literal_eval(node)
print(json.dumps({
    "function": call.func.attr,
    "args": [value(a) for a in call.args],
    "kwargs": {k.arg: value(k.value) for k in call.keywords},
}))
`;

describe('pyString', () => {
  it('escapes quotes, backslashes and invisible characters', () => {
    expect(pyString('a"b\nc')).toBe('"a\\"b\\nc"');
    expect(pyString('back\\')).toBe('"back\\\\"');
    expect(pyString("it's")).toBe('"it\'s"');
    expect(pyString('\u2028')).toBe('"\\u2028"');
    expect(pyString('\u202e')).toBe('"\\u202e"');
    expect(pyString('\0\x7f\xa0')).toBe('"\\x00\\x7f\\xa0"');
    expect(pyString('\ud800')).toBe('"\\ud800"');
    expect(pyString('é 中 \u{1F9EC}')).toBe('"é 中 \u{1F9EC}"');
  });

  it('never lets a line break or quote through unescaped', () => {
    for (const text of NASTY_STRINGS) {
      const literal = pyString(text);
      expect(literal.slice(1, -1)).not.toMatch(/(^|[^\\])(\\\\)*"/);
      expect(literal).not.toMatch(/[\n\r\u2028\u2029\u0085\v\f]/);
    }
  });

  withPython('reads back exactly in Python (ast.literal_eval)', () => {
    const strings = [
      ...NASTY_STRINGS,
      // every code point below 0x3000 and some above, one string each
      ...Array.from({ length: 0x3000 }, (_, i) => String.fromCharCode(i)),
      '\u{10FFFF}\u{E0001}\u{1D11E}'
    ];
    const code = `[${strings.map(pyString).join(',\n')}]`;
    const out = python(
      'import ast, json, sys; print(json.dumps(ast.literal_eval(sys.stdin.read())))',
      code
    );
    expect(JSON.parse(out)).toEqual(strings);
  });
});

describe('pyObject', () => {
  it('uses plain identifiers and looks anything else up', () => {
    expect(pyObject('adata')).toBe('adata');
    expect(pyObject('_x1')).toBe('_x1');
    for (const name of [
      'class',
      'None',
      '1a',
      'a-b',
      'a b',
      'ﬁ',
      'x;import os'
    ]) {
      expect(isPlainIdentifier(name)).toBe(false);
      expect(pyObject(name)).toBe(`globals()[${pyString(name)}]`);
    }
  });
});

describe('reproduceCode', () => {
  const heatmap: IHeatmapSpec = {
    ...specWith(['CD3E', ...NASTY_STRINGS]),
    object: 'my data"; import os',
    clusters: ['0', 'B "cells"\n']
  };

  withPython('writes a heatmap call Python parses to the same values', () => {
    const code = reproduceCode(heatmap);
    const call = JSON.parse(python(READ_CALL, code));
    expect(call).toEqual({
      function: 'heatmap',
      args: [{ globals: 'my data"; import os' }, heatmap.genes],
      kwargs: {
        groupby: 'cluster',
        dataset_key: 'stim',
        cluster_key: 'leiden',
        layer: 'integrated',
        clusters: ['0', 'B "cells"\n'],
        value: 'mean',
        scale: 'zscore',
        zscore_clip: 2.5,
        min_cells: 10,
        cluster_genes: false,
        cluster_columns: false,
        metric: 'euclidean'
      }
    });
  });

  withPython(
    'writes top_n without genes for markers, and the matrix as use_raw',
    () => {
      const spec: IHeatmapSpec = {
        ...heatmap,
        object: 'adata',
        matrix: 'raw',
        gene_source: 'markers',
        top_n: 7,
        dataset_column: null,
        clusters: null
      };
      const call = JSON.parse(python(READ_CALL, reproduceCode(spec)));
      expect(call.args).toEqual([{ name: 'adata' }]);
      expect(call.kwargs).toMatchObject({
        top_n: 7,
        dataset_key: null,
        layer: null,
        use_raw: true,
        clusters: null
      });
    }
  );

  withPython('writes a dual_expression call', () => {
    const dual: IDualSpec = {
      exprscope_spec: 1,
      kind: 'dual_expression',
      version: '0.1.0',
      object: 'adata',
      matrix: 'X',
      dataset_column: 'stim',
      cluster_column: null,
      sample_column: null,
      clusters: ['3'],
      gene_x: 'a"b\nc',
      gene_y: '\u2028',
      color_by: 'cluster',
      facet_by: 'dataset',
      detected_only: true,
      jitter: true,
      density: 'off',
      marginals: true,
      n_boot: 0,
      seed: -3,
      embedding: 'X_umap'
    };
    const code = reproduceCode(dual);
    expect(
      code.startsWith('import exprscope\n\nexprscope.dual_expression(\n')
    ).toBe(true);
    expect(JSON.parse(python(READ_CALL, code))).toEqual({
      function: 'dual_expression',
      args: [{ name: 'adata' }, 'a"b\nc', '\u2028'],
      kwargs: {
        color_by: 'cluster',
        facet_by: 'dataset',
        dataset_key: 'stim',
        cluster_key: null,
        clusters: ['3'],
        layer: null,
        use_raw: false,
        detected_only: true,
        jitter: true,
        density: 'off',
        marginals: true,
        n_boot: 0,
        seed: -3,
        embedding: 'X_umap'
      }
    });
  });

  it('refuses R matrices with a clear message', () => {
    expect(() => reproduceCode({ ...heatmap, matrix: 'RNA/data' })).toThrow(
      /no Python reproduction for R objects/
    );
    expect(() => reproduceCode({ ...heatmap, matrix: 'layers/' })).toThrow(
      /no Python reproduction/
    );
  });

  it('is readable', () => {
    const code = reproduceCode({
      ...heatmap,
      object: 'adata',
      genes: ['CD3E']
    });
    expect(code).toBe(
      [
        'import exprscope',
        '',
        'exprscope.heatmap(',
        '    adata,',
        '    ["CD3E"],',
        '    groupby="cluster",',
        '    dataset_key="stim",',
        '    cluster_key="leiden",',
        '    layer="integrated",',
        '    clusters=["0", "B \\"cells\\"\\n"],',
        '    value="mean",',
        '    scale="zscore",',
        '    zscore_clip=2.5,',
        '    min_cells=10,',
        '    cluster_genes=False,',
        '    cluster_columns=False,',
        '    metric="euclidean",',
        ')',
        ''
      ].join('\n')
    );
  });
});

// -- R ---------------------------------------------------------------------------------

/** Rscript on PATH (CI has one); the checks against it skip only without one. */
const RSCRIPT = (() => {
  const probe = spawnSync('Rscript', ['--version']);
  return probe.status === 0 ? 'Rscript' : null;
})();
const withR = RSCRIPT ? it : it.skip;

// The R helper's folder: its files, sourced in name order, are the R setup snippet.
const R_HELPER = path.resolve(__dirname, '../../../exprscope/kernel/r');

/** Run an R script (its text as an argument) with `input` on stdin; its stdout. */
function rscript(script: string, input: string, ...args: string[]): string {
  return execFileSync(RSCRIPT!, ['-e', script, ...args], {
    input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' }
  });
}

/** R code reading stdin as UTF-8 text. */
const R_STDIN = `
con <- file("stdin", "rb")
bytes <- readBin(con, "raw", 1e8)
close(con)
code <- rawToChar(bytes)
Encoding(code) <- "UTF-8"
`;

/** Parse (R's own parser), evaluate and print as JSON one vector of string literals. */
const READ_STRINGS = `${R_STDIN}
exprs <- parse(text = code, keep.source = FALSE, encoding = "UTF-8")
stopifnot(length(exprs) == 1L)
values <- eval(exprs[[1L]], baseenv())
stopifnot(is.character(values), !anyNA(values), all(validUTF8(values)))
cat(jsonlite::toJSON(I(enc2utf8(values))))
`;

/**
 * Parse the generated code with R's parser: exactly one call, of one of the two
 * functions (as the R setup snippet defines them, so every argument must bind to a
 * formal), whose arguments are literals; they are evaluated (literals only) and printed
 * as JSON. The object comes back as {"name": ...} or {"get": ...}, and the helper's own
 * reading of it as "object_name".
 */
const READ_R_CALL = `${R_STDIN}
for (part in sort(Sys.glob(file.path(commandArgs(trailingOnly = TRUE)[1L], "*.R")))) source(part)
exprs <- parse(text = code, keep.source = FALSE, encoding = "UTF-8")
stopifnot(length(exprs) == 1L, is.call(exprs[[1L]]), is.name(exprs[[1L]][[1L]]))
call <- exprs[[1L]]
fn <- as.character(call[[1L]])
stopifnot(fn %in% c("exprscope_heatmap", "exprscope_dual_expression"))
matched <- match.call(get(fn, envir = as.environment("exprscope")), call)
args <- as.list(call)[-1L]
keys <- names(args)
if (is.null(keys)) keys <- rep("", length(args))
stopifnot(keys[1L] == "", all(nzchar(keys[-1L])), !anyDuplicated(keys[-1L]))
is_array <- function(e) {
  (is.call(e) && identical(e[[1L]], as.name("c")) &&
    all(vapply(as.list(e)[-1L], is.character, TRUE))) ||
    identical(e, quote(character(0)))
}
is_literal <- function(e) {
  is.null(e) || ((is.character(e) || is.numeric(e) || is.logical(e)) && length(e) == 1L) ||
    (is.call(e) && identical(e[[1L]], as.name("-")) && length(e) == 2L && is.numeric(e[[2L]])) ||
    is_array(e)
}
value <- function(e) {
  stopifnot(is_literal(e))
  v <- eval(e, baseenv())
  # numbers as exact text (jsonlite writes at most 15 significant digits)
  if (is_array(e)) I(enc2utf8(v)) else if (is.character(v)) enc2utf8(v) else
  if (is.numeric(v)) list(number = sprintf("%.17g", v)) else v
}
object <- args[[1L]]
object_json <- if (is.name(object)) {
  list(name = enc2utf8(as.character(object)))
} else {
  stopifnot(
    is.call(object), identical(object[[1L]], as.name("get")), length(object) == 3L,
    is.null(names(object)[2L]) || names(object)[2L] == "", is.character(object[[2L]]),
    identical(names(object)[3L], "envir"), identical(object[[3L]], quote(globalenv()))
  )
  list(get = enc2utf8(object[[2L]]))
}
cat(jsonlite::toJSON(list(
  "function" = fn,
  object = object_json,
  object_name = enc2utf8(.exprscope$argument_name(object)),
  kwargs = lapply(args[-1L], value)
), auto_unbox = TRUE, null = "null", digits = NA))
`;

function readRCall(code: string): any {
  return JSON.parse(rscript(READ_R_CALL, code, R_HELPER), (key, value) =>
    value !== null &&
    typeof value === 'object' &&
    Object.keys(value).length === 1 &&
    typeof value.number === 'string'
      ? Number(value.number)
      : value
  );
}

/** Strings R cannot hold: NUL and unpaired surrogates. */
const R_REFUSES = (text: string): boolean =>
  /\0|[\ud800-\udfff]/.test(
    text.replace(/[\ud800-\udbff][\udc00-\udfff]/g, '')
  );
const R_NASTY_STRINGS = NASTY_STRINGS.filter(text => !R_REFUSES(text));

describe('rString', () => {
  it('escapes quotes, backslashes and invisible characters', () => {
    expect(rString('a"b\nc')).toBe('"a\\"b\\nc"');
    expect(rString('back\\')).toBe('"back\\\\"');
    expect(rString("it's")).toBe('"it\'s"');
    expect(rString('\u2028\u2029')).toBe('"\\u{2028}\\u{2029}"');
    expect(rString('\u202e')).toBe('"\\u{202e}"');
    expect(rString('\x01\x7f\xa0')).toBe('"\\u{0001}\\u{007f}\\u{00a0}"');
    expect(rString('\u{E0001}')).toBe('"\\U{000e0001}"');
    expect(rString('é 中 \u{1F9EC}')).toBe('"é 中 \u{1F9EC}"');
    // \u{...} is braced: a following hex digit cannot extend it
    expect(rString('\u00ada')).toBe('"\\u{00ad}a"');
  });

  it('refuses what R strings cannot hold', () => {
    for (const text of ['a\0b', '\ud800', 'x\udfff', '\udc00\ud800']) {
      expect(() => rString(text)).toThrow(ReproduceError);
    }
    expect(R_NASTY_STRINGS.length).toBe(NASTY_STRINGS.length - 2);
  });

  it('never lets a line break or quote through unescaped', () => {
    for (const text of R_NASTY_STRINGS) {
      const literal = rString(text);
      expect(literal.slice(1, -1)).not.toMatch(/(^|[^\\])(\\\\)*"/);
      expect(literal).not.toMatch(/[\n\r\u2028\u2029\u0085\v\f]/);
    }
  });

  withR('reads back exactly in R (parse + eval)', () => {
    const strings = [
      ...R_NASTY_STRINGS,
      // every code point from 1 to 0x3000 and some above, one string each
      ...Array.from({ length: 0x3000 }, (_, i) => String.fromCharCode(i + 1)),
      '\u{10FFFF}\u{E0001}\u{1D11E}\ufffe\uffff',
      'a\u00ad1\u{1F9EC}\n\u0001b'
    ];
    const code = `c(${strings.map(rString).join(',\n')})`;
    expect(JSON.parse(rscript(READ_STRINGS, code))).toEqual(strings);
  });
});

describe('rObject', () => {
  const syntactic = [
    'kang',
    'a.b',
    '.a',
    '.',
    '..',
    'a_b',
    'T',
    'x1',
    'if_',
    'NA_x'
  ];
  const other = [
    '_a',
    '1a',
    '.1a',
    '...',
    '..1',
    'if',
    'TRUE',
    'NA_real_',
    'in',
    'function',
    'a-b',
    'a b',
    'é',
    'x;system("ls")',
    'a"b',
    ''
  ];

  it('uses syntactic names and looks anything else up', () => {
    for (const name of syntactic) {
      expect(isSyntacticRName(name)).toBe(true);
      expect(rObject(name)).toBe(name);
    }
    for (const name of other) {
      expect(isSyntacticRName(name)).toBe(false);
      expect(rObject(name)).toBe(`get(${rString(name)}, envir = globalenv())`);
    }
  });

  withR('agrees with make.names on ASCII names', () => {
    // make.names keeps "..." and "..1", which R reserves (they cannot name a variable)
    const names = [...syntactic, ...other].filter(
      n => /^[ -~]+$/.test(n) && n !== '...' && n !== '..1'
    );
    const code = `c(${names.map(rString).join(', ')})`;
    const kept = JSON.parse(
      rscript(
        `${R_STDIN}
        x <- eval(parse(text = code, keep.source = FALSE)[[1L]], baseenv())
        cat(jsonlite::toJSON(make.names(x) == x))`,
        code
      )
    );
    expect(kept).toEqual(names.map(isSyntacticRName));
  });
});

describe('reproduceLanguage', () => {
  it('maps kernel language names', () => {
    expect(reproduceLanguage('python')).toBe('python');
    expect(reproduceLanguage('R')).toBe('r');
    expect(reproduceLanguage(' r ')).toBe('r');
    expect(reproduceLanguage('julia')).toBeNull();
  });
});

describe('reproduceCode in R', () => {
  const heatmap: IHeatmapSpec = {
    ...specWith(['CD3E', ...R_NASTY_STRINGS]),
    object: 'my data"; system("ls")',
    matrix: 'integrated/data',
    clusters: ['0', 'B "cells"\n']
  };
  const dual: IDualSpec = {
    exprscope_spec: 1,
    kind: 'dual_expression',
    version: '0.1.0',
    object: 'kang',
    matrix: 'assays/logcounts',
    dataset_column: 'stim',
    sample_column: null,
    cluster_column: null,
    clusters: ['3'],
    gene_x: 'a"b\nc',
    gene_y: '\u2028',
    color_by: 'cluster',
    facet_by: 'dataset',
    detected_only: true,
    jitter: true,
    density: 'off',
    marginals: true,
    n_boot: 0,
    seed: -3,
    embedding: 'umap'
  };

  withR('writes a heatmap call R parses to the same values', () => {
    const call = readRCall(reproduceCode(heatmap, 'r'));
    expect(call).toEqual({
      function: 'exprscope_heatmap',
      object: { get: 'my data"; system("ls")' },
      object_name: 'my data"; system("ls")',
      kwargs: {
        genes: heatmap.genes,
        groupby: 'cluster',
        dataset_key: 'stim',
        cluster_key: 'leiden',
        matrix: 'integrated/data',
        clusters: ['0', 'B "cells"\n'],
        value: 'mean',
        scale: 'zscore',
        zscore_clip: 2.5,
        min_cells: 10,
        cluster_genes: false,
        cluster_columns: false,
        metric: 'euclidean'
      }
    });
  });

  withR(
    'writes top_n without genes for markers, one-element vectors, NULLs',
    () => {
      const spec: IHeatmapSpec = {
        ...heatmap,
        object: 'kang',
        matrix: 'RNA/data',
        gene_source: 'markers',
        top_n: 7,
        dataset_column: null,
        clusters: ['3'],
        zscore_clip: 0.1 + 0.2,
        cluster_genes: true
      };
      const call = readRCall(reproduceCode(spec, 'r'));
      expect(call.object).toEqual({ name: 'kang' });
      expect(call.object_name).toBe('kang');
      expect(call.kwargs.genes).toBeUndefined();
      expect(call.kwargs).toMatchObject({
        top_n: 7,
        dataset_key: null,
        matrix: 'RNA/data',
        clusters: ['3'],
        zscore_clip: 0.1 + 0.2,
        cluster_genes: true
      });
      const selected = readRCall(
        reproduceCode({ ...spec, gene_source: 'selected', genes: [] }, 'r')
      );
      expect(selected.kwargs.genes).toEqual([]);
      expect(selected.kwargs.top_n).toBeUndefined();
    }
  );

  withR('writes a dual_expression call', () => {
    const code = reproduceCode(dual, 'r');
    expect(code.startsWith('exprscope_dual_expression(\n  kang,\n')).toBe(true);
    expect(readRCall(code)).toEqual({
      function: 'exprscope_dual_expression',
      object: { name: 'kang' },
      object_name: 'kang',
      kwargs: {
        gene_x: 'a"b\nc',
        gene_y: '\u2028',
        color_by: 'cluster',
        facet_by: 'dataset',
        dataset_key: 'stim',
        cluster_key: null,
        matrix: 'assays/logcounts',
        clusters: ['3'],
        detected_only: true,
        jitter: true,
        density: 'off',
        marginals: true,
        n_boot: 0,
        seed: -3,
        embedding: 'umap'
      }
    });
    const none = readRCall(
      reproduceCode({ ...dual, clusters: null, embedding: null }, 'r')
    );
    expect(none.kwargs).toMatchObject({ clusters: null, embedding: null });
  });

  /** R with SeuratObject (for pbmc_small): runs the generated code for real. */
  const withSeurat =
    RSCRIPT &&
    spawnSync(RSCRIPT, [
      '-e',
      'quit(status = !requireNamespace("SeuratObject", quietly = TRUE))'
    ]).status === 0
      ? it
      : it.skip;

  /**
   * Run the generated code in R, after the setup snippet, with pbmc_small in the global
   * environment as `pbmc small`: the spec the function displays, as JSON.
   */
  const RUN_R_CALL = `${R_STDIN}
  for (part in sort(Sys.glob(file.path(commandArgs(trailingOnly = TRUE)[1L], "*.R")))) source(part)
  invisible(suppressPackageStartupMessages(loadNamespace("SeuratObject")))
  data("pbmc_small", package = "SeuratObject", envir = globalenv())
  assign("pbmc small", pbmc_small, envir = globalenv())
  shown <- NULL
  options(jupyter.base_display_func = function(data, metadata = NULL) shown <<- data)
  invisible(eval(parse(text = code, keep.source = FALSE, encoding = "UTF-8")[[1L]], globalenv()))
  spec <- shown[["application/vnd.exprscope.plot+json"]]$spec
  spec$zscore_clip <- if (is.null(spec$zscore_clip)) NULL else list(number = sprintf("%.17g", spec$zscore_clip))
  cat(jsonlite::toJSON(spec, auto_unbox = TRUE, digits = NA))
  `;

  withSeurat('writes calls that display the same spec in R', () => {
    const common = {
      exprscope_spec: 1 as const,
      version: '0.1.0',
      object: 'pbmc small',
      matrix: 'RNA/data',
      dataset_column: 'groups',
      cluster_column: 'RNA_snn_res.1',
      sample_column: null,
      clusters: ['2']
    };
    const noComparison = {
      reference: null,
      target: null,
      compare_method: 'auto' as const,
      marker_method: 'auto' as const
    };
    const specs: (IHeatmapSpec | IDualSpec)[] = [
      {
        ...common,
        kind: 'heatmap',
        gene_source: 'selected',
        genes: ['MS4A1'],
        top_n: 10,
        group_by: 'dataset_cluster',
        value: 'dot',
        ...noComparison,
        scaling: 'minmax',
        zscore_clip: 1.25,
        min_cells: 3,
        cluster_genes: true,
        cluster_columns: false,
        metric: 'correlation'
      },
      {
        ...common,
        object: 'pbmc_small',
        matrix: 'RNA/counts',
        dataset_column: null,
        clusters: null,
        kind: 'heatmap',
        gene_source: 'markers',
        genes: [],
        top_n: 4,
        group_by: 'cluster',
        value: 'mean',
        ...noComparison,
        scaling: 'zscore',
        zscore_clip: 2.5,
        min_cells: 10,
        cluster_genes: false,
        cluster_columns: true,
        metric: 'euclidean'
      },
      {
        ...dual,
        ...common,
        gene_x: 'MS4A1',
        gene_y: 'CD79B',
        embedding: 'tsne'
      }
    ];
    for (const spec of specs) {
      const shown = JSON.parse(
        rscript(RUN_R_CALL, reproduceCode(spec, 'r'), R_HELPER),
        (key, value) =>
          value !== null && typeof value === 'object' && 'number' in value
            ? Number(value.number)
            : value
      );
      expect(shown).toEqual(spec);
    }
  });

  it('is readable', () => {
    expect(
      reproduceCode(
        { ...heatmap, object: 'kang', genes: ['CD3E'], clusters: ['0'] },
        'r'
      )
    ).toBe(
      [
        'exprscope_heatmap(',
        '  kang,',
        '  genes = c("CD3E"),',
        '  groupby = "cluster",',
        '  dataset_key = "stim",',
        '  cluster_key = "leiden",',
        '  matrix = "integrated/data",',
        '  clusters = c("0"),',
        '  value = "mean",',
        '  scale = "zscore",',
        '  zscore_clip = 2.5,',
        '  min_cells = 10,',
        '  cluster_genes = FALSE,',
        '  cluster_columns = FALSE,',
        '  metric = "euclidean"',
        ')',
        ''
      ].join('\n')
    );
  });

  it('refuses AnnData matrices and strings R cannot hold', () => {
    expect(() => reproduceCode({ ...dual, matrix: 'X' }, 'r')).toThrow(
      /no R reproduction for AnnData objects/
    );
    expect(() => reproduceCode({ ...dual, matrix: 'raw' }, 'r')).toThrow(
      ReproduceError
    );
    expect(() => reproduceCode({ ...dual, gene_x: 'a\0' }, 'r')).toThrow(/NUL/);
    expect(() => reproduceCode({ ...heatmap, object: 'x\ud800' }, 'r')).toThrow(
      /surrogate/
    );
  });

  it('keeps Python the default', () => {
    const spec = { ...heatmap, matrix: 'layers/integrated' };
    expect(reproduceCode(spec)).toBe(reproduceCode(spec, 'python'));
    expect(reproduceCode(spec).startsWith('import exprscope\n\n')).toBe(true);
  });
});
