/**
 * Pure numerical core of the heatmap and dual-expression views: no DOM, no Jupyter, no
 * I/O, safe to run in a Web Worker. The kernel side (`exprscope/compute/`) implements the
 * same numbers; `__tests__/crossImpl.spec.ts` holds the two to agreement.
 */
export * from './aggregate';
export * from './correlation';
export * from './distributions';
export * from './hclust';
export * from './markers';
export * from './median';
export * from './rng';
export * from './scale';
export * from './conserved';
