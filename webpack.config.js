// Merged by @jupyter/builder into the extension's bundler config (package.json's
// jupyterlab.webpackConfig). The kernel package's setup snippets are imported as text.
module.exports = {
  module: {
    rules: [
      { test: /exprscope[\\/]kernel[\\/].*\.(R|py)$/, type: 'asset/source' }
    ]
  }
};
