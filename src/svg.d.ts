declare module '*.svg' {
  const value: string;
  export default value;
}

// The prebuilt Plotly bundle has no types of its own; it is plotly.js.
declare module 'plotly.js-dist-min' {
  import * as Plotly from 'plotly.js';
  export = Plotly;
}
