/**
 * Playwright configuration of `make bench` (see docs/performance.md). It reuses the UI
 * tests' node_modules and server configuration; bench/run.py runs it from ui-tests/ with
 * NODE_PATH pointing there, on its own port (EXPRSCOPE_BENCH_PORT, 8899) so that it can
 * run beside the UI tests.
 */
const os = require('os');
const path = require('path');

const uiTests = path.resolve(__dirname, '../ui-tests');
const baseConfig = require(
  require.resolve('@jupyterlab/galata/lib/playwright-config', {
    paths: [uiTests]
  })
);

// The same chromium as the UI tests (Debian's, the same flags), plus the three below.
const { launchOptions } = require(
  path.join(uiTests, 'playwright.config.js')
).use;

const port = process.env.EXPRSCOPE_BENCH_PORT || '8899';
// The server is cross-origin isolated (exprscope/server.py), the configuration advised for
// large data: the views share fetched columns with their workers. EXPRSCOPE_BENCH_ISOLATION=0
// measures JupyterLab's default, where they are copied.
const isolation = process.env.EXPRSCOPE_BENCH_ISOLATION !== '0';

module.exports = {
  ...baseConfig,
  testDir: path.join(__dirname, 'tests'),
  // Outside the repository: nothing for the linters or git to pick up.
  outputDir: path.join(os.tmpdir(), 'exprscope-bench-results'),
  // One long test; bench.spec.ts sets its own timeout per size.
  timeout: 3 * 3600 * 1000,
  expect: { timeout: 60 * 1000 },
  retries: 0,
  workers: 1,
  reporter: [['list']],
  use: {
    ...baseConfig.use,
    baseURL: `http://localhost:${port}`,
    video: 'off',
    trace: 'off',
    viewport: { width: 1400, height: 1000 },
    launchOptions: {
      ...launchOptions,
      args: [
        ...launchOptions.args,
        // Timers and rendering must not be throttled while nothing is on screen.
        '--disable-background-timer-throttling',
        '--disable-renderer-backgrounding',
        // measureUserAgentSpecificMemory answers now, not at the next GC (up to 20 s)
        '--enable-blink-features=ForceEagerMeasureMemory'
      ]
    }
  },
  webServer: {
    command: [
      'jupyter lab',
      `--config ${path.join(uiTests, 'jupyter_server_test_config.py')}`,
      `--ServerApp.port=${port}`,
      `--ExprscopeServer.cross_origin_isolation=${isolation ? 'True' : 'False'}`
    ].join(' '),
    cwd: uiTests,
    url: `http://localhost:${port}/lab`,
    timeout: 120 * 1000,
    reuseExistingServer: false
  }
};
