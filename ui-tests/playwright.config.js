/**
 * Galata / Playwright configuration. Playwright cannot download browsers here, so the tests
 * drive Debian's chromium (installed by scripts/install-system-deps.sh --ui).
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

// Another port (EXPRSCOPE_UI_PORT) lets two checkouts run their UI tests side by side.
const port = process.env.EXPRSCOPE_UI_PORT || '8888';

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
  webServer: {
    command: `jlpm start --ServerApp.port=${port}`,
    url: `http://localhost:${port}/lab`,
    timeout: 120 * 1000,
    reuseExistingServer: !process.env.CI
  }
};
