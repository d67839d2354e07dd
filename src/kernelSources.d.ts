// The kernel package's source files, imported as text (webpack's asset/source; jest's raw
// loader): the setup snippets of src/bridge/setup.ts.
declare module '*.R' {
  const text: string;
  export default text;
}

declare module '*.py' {
  const text: string;
  export default text;
}
