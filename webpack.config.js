// Merged by @jupyter/builder into the extension's bundler config (package.json's
// jupyterlab.webpackConfig). The kernel package's setup snippets are imported as text.

/**
 * Minifies Plotly's chunks in development builds too (`make build`, which `make bench`
 * measures): the unminified modular plotly.js (src/plots/plotlyBundle.ts) is 4.3 MB
 * against 1.8 MB minified, and parsing it is the page's first long task. Production
 * builds minify everything already.
 */
class MinifyPlotlyInDevelopment {
  apply(compiler) {
    if (compiler.options.mode === 'development') {
      new compiler.rspack.SwcJsMinimizerRspackPlugin({ test: /plotly/ }).apply(
        compiler
      );
    }
  }
}

module.exports = {
  module: {
    rules: [
      { test: /exprscope[\\/]kernel[\\/].*\.(R|py)$/, type: 'asset/source' }
    ]
  },
  plugins: [new MinifyPlotlyInDevelopment()]
};
