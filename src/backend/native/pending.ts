/**
 * Deferred kernel outputs: a kernel may return a tensor whose memory is allocated but not yet
 * filled, with a recipe to fill it. The tensor is filled ("materialised") the first time anything
 * reads it: any kernel of the native backend taking it as input, or a data read. Until then a
 * kernel that knows the recipe can use its sources instead, and skip a full pass over memory.
 *
 * Used for MaxPoolGrad: the backward pass of a "conv/dense + ReLU" layer followed by max pooling
 * computes the ReLU and bias gradients straight from the pooled gradient (see
 * native/src/pool.cc, pool_relu_grad_bias), and MaxPoolGrad's output (four times the pooled
 * gradient with 2x2 windows) is never written. And for FusedConv2D: a max pooling that follows
 * pools the convolution as it is computed (native/src/conv.cc, conv2d_pool), and an inference
 * batch norm that follows is folded into it (kernels/norm.ts). Anything else that reads a deferred
 * output gets it filled first, so results never change.
 *
 * A recipe holds a reference on each source tensor's data (they stay alive until the recipe is
 * used or dropped); dropping the deferred tensor drops the references.
 */
import type { DataId, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export interface Recipe {
  kind: string;
  /** Tensors the recipe reads; kept alive until it runs or is dropped. */
  sources: TensorInfo[];
  /** Fills the deferred tensor's memory. */
  fill(): void;
}

/** Kernels that only alias their input's data: a deferred input stays deferred through them. */
const ALIASING = new Set(['Identity', 'Reshape']);

export class DeferredOutputs {
  private readonly recipes = new Map<DataId, Recipe>();

  /** `around` runs each fill (the native context times it). */
  constructor(
    private readonly backend: BackendWasm,
    private readonly around: (kind: string, fill: () => void) => void = (_kind, fill) => fill(),
  ) {
    // Reads and disposals go through the backend instance: hook the three entry points.
    const { readSync, read, disposeData } = backend;
    backend.readSync = (dataId, start, end) => {
      this.materialize(dataId);
      return readSync.call(backend, dataId, start, end);
    };
    backend.read = (dataId) => {
      this.materialize(dataId);
      return read.call(backend, dataId);
    };
    backend.disposeData = (dataId, force) => {
      const released = disposeData.call(backend, dataId, force);
      const recipe = released ? this.recipes.get(dataId) : undefined;
      if (recipe) {
        this.recipes.delete(dataId);
        this.release(recipe);
      }
      return released;
    };
  }

  defer(out: TensorInfo, recipe: Recipe): void {
    for (const s of recipe.sources) this.backend.incRef(s.dataId);
    this.recipes.set(out.dataId, recipe);
  }

  get(dataId: DataId): Recipe | undefined {
    return this.recipes.get(dataId);
  }

  materialize(dataId: DataId): void {
    const recipe = this.recipes.get(dataId);
    if (!recipe) return;
    this.recipes.delete(dataId);
    this.around(recipe.kind, () => recipe.fill());
    this.release(recipe);
  }

  /** The deferred tensor was filled by other means (a fused kernel): forget its recipe. */
  resolve(dataId: DataId): void {
    const recipe = this.recipes.get(dataId);
    if (!recipe) return;
    this.recipes.delete(dataId);
    this.release(recipe);
  }

  /** Called before every kernel of the native backend runs. */
  beforeKernel(kernelName: string, inputs: NamedTensorInfoMap, attrs: Record<string, unknown> | undefined): void {
    if (this.recipes.size === 0 || ALIASING.has(kernelName)) return;
    if (kernelName === 'Cast' && inputs.x && attrs?.dtype === inputs.x.dtype) return;
    for (const t of Object.values(inputs)) if (t) this.materialize(t.dataId);
  }

  get size(): number {
    return this.recipes.size;
  }

  private release(recipe: Recipe): void {
    for (const s of recipe.sources) this.backend.disposeData(s.dataId);
  }
}
