/**
 * Galata / Playwright configuration. Playwright cannot download browsers here, so the tests
 * drive Debian's chromium (installed by scripts/install-system-deps.sh --ui).
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

// Another port (EXPRSCOPE_UI_PORT) lets two checkouts run their UI tests side by side.
const port = Number(process.env.EXPRSCOPE_UI_PORT || '8888');
// A second server, cross-origin isolated (exprscope/server.py), for isolation.spec.ts, and
// the sidebar's bad-input tests again there (unknown genes and matrices, a busy kernel, an
// object changed in the kernel: the same messages with shared memory and its workers).
const isolatedPort = port + 1;
const ISOLATION_SPEC = /isolation\.spec\.ts/;
const ALSO_ISOLATED = /sidebar\.spec\.ts/;

function server(serverPort, ...args) {
  return {
    command: ['jlpm start', `--ServerApp.port=${serverPort}`, ...args].join(
      ' '
    ),
    url: `http://localhost:${serverPort}/lab`,
    timeout: 120 * 1000,
    reuseExistingServer: !process.env.CI
  };
}

module.exports = {
  ...baseConfig,
  timeout: 180 * 1000,
  expect: { timeout: 30 * 1000, toHaveScreenshot: { maxDiffPixelRatio: 0.02 } },
  retries: process.env.CI ? 1 : 0,
  workers: 1,
  reporter: [['list'], ['html', { open: 'never' }]],
  use: {
    ...baseConfig.use,
    baseURL: `http://localhost:${port}`,
    video: 'off',
    trace: 'retain-on-failure',
    viewport: { width: 1280, height: 800 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync'
      ]
    }
  },
  // Without the project name: the default project's screenshots keep their names.
  snapshotPathTemplate:
    '{snapshotDir}/{testFileDir}/{testFileName}-snapshots/{arg}{-snapshotSuffix}{ext}',
  projects: [
    { name: 'default', testIgnore: ISOLATION_SPEC },
    {
      name: 'isolated',
      testMatch: [ISOLATION_SPEC, ALSO_ISOLATED],
      use: { baseURL: `http://localhost:${isolatedPort}` }
    }
  ],
  webServer: [
    server(port),
    server(isolatedPort, '--ExprscopeServer.cross_origin_isolation=True')
  ]
};
