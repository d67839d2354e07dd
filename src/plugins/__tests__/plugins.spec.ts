// The plugins' wiring is what is checked here, not their activation: modules that only the
// bundler loads (the workers' `import.meta.url`, JupyterLab's ES-module UI components) are
// replaced by ones whose every export is a token of that name.
function mockTokens(): Record<string, unknown> {
  const { Token } = jest.requireActual('@lumino/coreutils');
  const made = new Map<string, unknown>();
  return new Proxy(
    {},
    {
      get: (_, name) => {
        if (typeof name !== 'string' || name === '__esModule') {
          return undefined;
        }
        if (!made.has(name)) {
          made.set(name, new Token(name));
        }
        return made.get(name);
      }
    }
  );
}
jest.mock('@jupyterlab/application', () => mockTokens());
jest.mock('@jupyterlab/apputils', () => mockTokens());
jest.mock('@jupyterlab/console', () => mockTokens());
jest.mock('@jupyterlab/notebook', () => mockTokens());
jest.mock('@jupyterlab/rendermime', () => mockTokens());
jest.mock('@jupyterlab/settingregistry', () => mockTokens());
jest.mock('@jupyter-widgets/base', () => mockTokens());
jest.mock('../../plots/workers', () => mockTokens());
jest.mock('../../data/workers', () => mockTokens());
jest.mock('../../bench/commands', () => mockTokens());
jest.mock('../../panel/sidebar', () => mockTokens());
jest.mock('../../plots/heatmap/widget', () => mockTokens());
jest.mock('../../plots/dual/widget', () => mockTokens());
jest.mock('../../widget/plotModel', () => mockTokens());
jest.mock('../../widget/renderer', () => mockTokens());

import plugins from '../../index';
import { benchPlugin } from '../bench';
import { corePlugin } from '../core';
import { notebookPlugin } from '../notebook';
import { sidebarPlugin } from '../sidebar';
import { IExprscope } from '../tokens';
import { viewsPlugin } from '../views';

describe('exprscope plugins', () => {
  it('index exports all five, core first', () => {
    expect(plugins).toEqual([
      corePlugin,
      sidebarPlugin,
      viewsPlugin,
      notebookPlugin,
      benchPlugin
    ]);
  });

  it('have unique ids; core keeps the id the settings schema binds to', () => {
    const ids = plugins.map(plugin => plugin.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(corePlugin.id).toBe('exprscope:plugin');
  });

  it('core provides IExprscope and every other plugin requires it', () => {
    expect(corePlugin.provides).toBe(IExprscope);
    expect(corePlugin.requires ?? []).not.toContain(IExprscope);
    for (const plugin of plugins.filter(p => p !== corePlugin)) {
      expect(plugin.requires).toContain(IExprscope);
      expect(plugin.provides).toBeUndefined();
    }
  });

  it('bench is a plugin of its own, so it can be disabled', () => {
    expect(benchPlugin.id).toBe('exprscope:bench');
    expect(benchPlugin.autoStart).toBe(true);
  });

  it('start automatically', () => {
    for (const plugin of plugins) {
      expect(plugin.autoStart).toBe(true);
    }
  });

  it('take one activate argument per required and optional token', () => {
    for (const plugin of plugins) {
      const tokens =
        (plugin.requires ?? []).length + (plugin.optional ?? []).length;
      expect(plugin.activate.length).toBe(1 + tokens);
    }
  });
});
