import * as fs from 'fs';
import * as path from 'path';

import {
  describeError,
  describeMissingReason,
  ExprscopeError
} from '../protocol';
import {
  PYTHON_SETUP_SNIPPET,
  R_SETUP_SNIPPET,
  setupSnippetFor
} from '../setup';

describe('describeError', () => {
  it('explains a timeout with its duration', () => {
    const error = new ExprscopeError('timeout', 'raw', { timeoutMs: 60000 });
    expect(describeError(error)).toBe(
      'The kernel did not answer within 60 s. It may be busy running a cell or stuck.'
    );
    expect(
      describeError(new ExprscopeError('timeout', '', { timeoutMs: 1500 }))
    ).toContain('within 1.5 s');
  });

  it("uses the kernel's message and falls back per code", () => {
    expect(
      describeError(new ExprscopeError('not_found', "No object named 'b'."))
    ).toBe("No object named 'b'.");
    expect(describeError(new ExprscopeError('not_installed', ''))).toContain(
      'pip install exprscope'
    );
    expect(describeError(new ExprscopeError('kernel_dead', ''))).toBe(
      'The kernel died. Restart it to continue.'
    );
  });

  it('prefixes internal errors and keeps them on one line', () => {
    expect(
      describeError(new ExprscopeError('internal', 'KeyError: x\n  at line 3'))
    ).toBe('The kernel failed: KeyError: x at line 3');
  });

  it('describes plain errors and other values', () => {
    expect(describeError(new Error('boom'))).toBe('boom');
    expect(describeError('text')).toBe('text');
    expect(describeError(42)).toBe('An unknown error occurred.');
  });
});

describe('setupSnippetFor', () => {
  it('returns the constant Python and R snippets and null for other languages', () => {
    expect(setupSnippetFor('python')).toBe(PYTHON_SETUP_SNIPPET);
    expect(setupSnippetFor('Python')).toBe(PYTHON_SETUP_SNIPPET);
    // IRkernel reports language_info.name "R".
    expect(setupSnippetFor('R')).toBe(R_SETUP_SNIPPET);
    expect(setupSnippetFor('julia')).toBeNull();
  });

  it('R: defines one hidden environment and registers the comm target last', () => {
    const lines = R_SETUP_SNIPPET.trimEnd().split('\n');
    expect(lines[lines.length - 1]).toBe('.exprscope$register()');
    expect(R_SETUP_SNIPPET).toContain(
      '.exprscope <- new.env(parent = baseenv())'
    );
    expect(R_SETUP_SNIPPET).toContain(
      'manager$register_target(TARGET, open_comm)'
    );
  });

  it('R: is every file of the R helper in name order, as Python joins them', () => {
    const dir = path.resolve(__dirname, '../../../exprscope/kernel/r');
    const parts = fs
      .readdirSync(dir)
      .filter(name => name.endsWith('.R'))
      .sort();
    expect(parts.length).toBeGreaterThan(1);
    expect(R_SETUP_SNIPPET).toBe(
      parts.map(name => fs.readFileSync(path.join(dir, name), 'utf8')).join('')
    );
  });

  it('only imports the package and registers the comm target', () => {
    const lines = PYTHON_SETUP_SNIPPET.trimEnd().split('\n');
    expect(lines).toContain('def _exprscope_setup():');
    expect(PYTHON_SETUP_SNIPPET).toBe(
      fs.readFileSync(
        path.resolve(__dirname, '../../../exprscope/kernel/setup_snippet.py'),
        'utf8'
      )
    );
    expect(lines[lines.length - 1]).toBe('    del _exprscope_setup');
    expect(PYTHON_SETUP_SNIPPET).toContain(
      'from exprscope.kernel import register'
    );
    expect(PYTHON_SETUP_SNIPPET).toContain(
      'comm_manager.register_target("exprscope", open_comm)'
    );
  });
});

describe('describeMissingReason', () => {
  it('turns reason codes into phrases', () => {
    expect(describeMissingReason('not_in_matrix', 'raw')).toBe('not in raw');
    expect(describeMissingReason(undefined, 'X')).toBe('not in X');
    expect(describeMissingReason('all_nan', 'layers/integrated')).toBe(
      'layers/integrated stores no values for it (all NaN)'
    );
    expect(describeMissingReason('filtered out', 'X')).toBe('filtered out');
  });
});
