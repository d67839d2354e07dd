/**
 * Web Worker entry that decodes `fetch` replies (./fetchDecoding.ts): a million cells'
 * Arrow stream takes longer than a frame to read, which must not freeze JupyterLab.
 */
import { IDecodeScope, serveFetchDecoding } from './fetchDecoding';

serveFetchDecoding(self as unknown as IDecodeScope);
