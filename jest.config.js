const jestJupyterLab = require('@jupyterlab/testutils/lib/jest-config');

const esModules = [
  '@codemirror',
  '@jupyter/ydoc',
  '@jupyterlab/',
  'lib0',
  'nanoid',
  'vscode-ws-jsonrpc',
  'y-protocols',
  'y-websocket',
  'yjs'
].join('|');

const baseConfig = jestJupyterLab(__dirname);

module.exports = {
  ...baseConfig,
  automock: false,
  collectCoverageFrom: [
    'src/**/*.{ts,tsx}',
    '!src/**/*.d.ts',
    '!src/**/.ipynb_checkpoints/*',
    // Only the bundler understands `new Worker(new URL(..., import.meta.url))`.
    '!src/plots/workers.ts',
    '!src/plots/*/worker.ts',
    '!src/data/workers.ts',
    '!src/data/decodeWorker.ts',
    '!src/bench/**'
  ],
  coverageReporters: ['lcov', 'text-summary'],
  // Not ./coverage: a folder of that name at the root would shadow Python's coverage module
  // for tools run from here (numba imports it).
  coverageDirectory: '<rootDir>/build/jest-coverage',
  modulePathIgnorePatterns: ['<rootDir>/.venv', '<rootDir>/ui-tests'],
  testRegex: 'src/.*/.*.spec.ts[x]?$',
  // The kernel package's setup snippets are imported as text (src/bridge/setup.ts).
  moduleFileExtensions: [...baseConfig.moduleFileExtensions, 'R', 'py'],
  transform: {
    ...baseConfig.transform,
    '\\.(R|py)$': '@jupyterlab/testing/lib/jest-raw-loader.js'
  },
  transformIgnorePatterns: [`/node_modules/(?!${esModules}).+`]
};
