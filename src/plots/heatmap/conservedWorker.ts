/**
 * Web Worker entry of the conserved-markers table: a t-test of every gene in every
 * cluster of every dataset (tens of thousands of genes × clusters × datasets) takes longer
 * than a frame.
 */
import { conservedMarkers } from '../../compute/conserved';
import { serveModelBuilds } from '../modelWorker';

serveModelBuilds(conservedMarkers);
