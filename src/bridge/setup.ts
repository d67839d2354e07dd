/**
 * Constant setup snippets, one per kernel language. They only import the
 * kernel package and register the comm target: user input never becomes
 * part of executed code (it travels as data inside comm messages).
 *
 * The snippets are the kernel package's own files, imported as text at build
 * time (webpack.config.js, jest's raw loader, src/kernelSources.d.ts),
 * exactly as `exprscope.kernel` reads them in Python: no copy to keep equal.
 */

import pythonSetup from '../../exprscope/kernel/setup_snippet.py';
import rEnv from '../../exprscope/kernel/r/00-env.R';
import rArgs from '../../exprscope/kernel/r/01-args.R';
import rObjects from '../../exprscope/kernel/r/02-objects.R';
import rStats from '../../exprscope/kernel/r/03-stats.R';
import rOps from '../../exprscope/kernel/r/04-ops.R';
import rCompare from '../../exprscope/kernel/r/04b-compare.R';
import rMarkers from '../../exprscope/kernel/r/04c-markers.R';
import rService from '../../exprscope/kernel/r/05-service.R';
import rApi from '../../exprscope/kernel/r/06-api.R';
import rStart from '../../exprscope/kernel/r/07-start.R';

/** `exprscope.kernel.PYTHON_SETUP_SNIPPET`: `exprscope/kernel/setup_snippet.py`. */
export const PYTHON_SETUP_SNIPPET: string = pythonSetup;

/**
 * `exprscope.kernel.R_SETUP_SNIPPET`: the R helper's files in name order,
 * joined (a test checks that every file of the folder is here).
 */
export const R_SETUP_SNIPPET: string = [
  rEnv,
  rArgs,
  rObjects,
  rStats,
  rOps,
  rCompare,
  rMarkers,
  rService,
  rApi,
  rStart
].join('');

/** Setup snippet per `language_info.name` (lower case). */
const SETUP_SNIPPETS: ReadonlyMap<string, string> = new Map([
  ['python', PYTHON_SETUP_SNIPPET],
  ['r', R_SETUP_SNIPPET]
]);

/** The setup snippet for a kernel language, or null if unsupported. */
export function setupSnippetFor(language: string): string | null {
  return SETUP_SNIPPETS.get(language.trim().toLowerCase()) ?? null;
}
