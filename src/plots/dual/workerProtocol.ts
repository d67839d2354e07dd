/** The dual-expression model builder that runs in a Web Worker (`worker.ts`). */
import type { IModelBuilder } from '../modelWorker';
import type {
  IBlendModel,
  IDualInput,
  IDualModel,
  IDualOptions
} from './model';

export type IDualModelBuilder = IModelBuilder<
  IDualInput,
  Partial<IDualOptions>,
  IDualModel
>;

/**
 * The two ends of the worker's replies. Models go back without what the view holds:
 * the input's arrays (values, codes, cell ids, embedding) and a blend it was sent before (a
 * million cells: 16 MB and 13 MB less to copy on every recolouring). Replies arrive in
 * the order they were sent, so "the blend sent last" is the same on both sides.
 */
export interface IDualReplies {
  /** Worker side: the model to send. */
  strip(model: IDualModel): IDualModel;
  /** View side: the model as built, from what was sent and the input. */
  attach(model: IDualModel, input: IDualInput): IDualModel;
}

/** A blend left out of a reply: the view has it under this key. */
interface ISentBlend {
  key: string;
  sent: true;
}

export function dualReplies(): IDualReplies {
  // The worker's end uses `sent`, the view's `received`: one object per side.
  let sent: string | null = null;
  let received: IBlendModel | null = null;
  const none = { codes: new Int32Array(0), categories: [] };
  return {
    strip: model => {
      const blend = model.blend;
      const known = blend !== null && blend.key === sent;
      sent = blend?.key ?? sent;
      return {
        ...model,
        x: null,
        y: null,
        dataset: none,
        cluster: none,
        cellIds: null,
        embedding: null,
        blend: known
          ? ({
              key: blend.key,
              sent: true
            } as ISentBlend as unknown as IBlendModel)
          : blend
      };
    },
    attach: (model, input) => {
      let blend = model.blend;
      if (blend && (blend as unknown as ISentBlend).sent === true) {
        if (received?.key !== blend.key) {
          throw new Error(
            'The worker referred to a blend the view does not have.'
          );
        }
        blend = received;
      }
      received = blend ?? received;
      return {
        ...model,
        x: input.x,
        y: input.y,
        dataset: input.dataset,
        cluster: input.cluster,
        cellIds: input.cellIds ?? null,
        embedding: input.embedding ?? null,
        blend
      };
    }
  };
}

/**
 * The buffers of a model that its build made and no memo keeps: the drawn points, the
 * facets' colour segments and marginals. Moved to the view, not copied (a million cells:
 * 12 MB). The kept cells, density bins and blend are memoised in the worker
 * (recolouring reuses them), so they are copied.
 */
export function freshBuffers(model: IDualModel): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  const add = (array: ArrayBufferView | null | undefined) => {
    if (array && array.buffer instanceof ArrayBuffer) {
      buffers.add(array.buffer);
    }
  };
  add(model.points.cells);
  add(model.points.x);
  add(model.points.y);
  for (const facet of model.facets) {
    add(facet.segments);
    for (const side of facet.marginals ? [facet.marginals] : []) {
      side.x.forEach(add);
      side.y.forEach(add);
      add(side.zerosX);
      add(side.zerosY);
    }
  }
  return [...buffers];
}
