/**
 * A small typed builder over tfjs-layers' functional API (tfl.input / layer.apply / tfl.model),
 * for models with branches and skip connections. Each method creates one layer, applies it to
 * its input node(s) and returns the output node:
 *
 *   graph: (x, g) => {
 *     const y = g.batchNorm(g.conv2d(x, { filters: 16, padding: 'same', useBias: false }));
 *     return g.relu(g.add([x, y]));
 *   }
 *
 * Defaults are Keras's (linear activation, 'valid' padding, stride 1, bias on, glorot-uniform
 * kernels), unlike the 'layers' kind, whose conv2d and dense apply a ReLU unless told otherwise.
 * Weights are initialised from Math.random when a method is called, so the order of the calls
 * fixes the initial weights for a seed (see util/rng).
 */
import * as tfl from '@tensorflow/tfjs-layers';

/** A symbolic tensor: the output of one layer of the graph being built. */
export type Node = tfl.SymbolicTensor;

export type Activation = 'linear' | 'relu' | 'relu6' | 'elu' | 'selu' | 'sigmoid' | 'tanh' | 'swish' | 'softmax';

export type Padding = 'same' | 'valid';

/** A size for both spatial dimensions, or [height, width]. */
export type Size2 = number | readonly [number, number];

interface Named {
  /** The layer's name (default: TF.js's, from a process-wide counter). */
  name?: string;
}

export interface Conv2dOptions extends Named {
  filters: number;
  /** Default 3. */
  kernel?: Size2;
  /** Default 1. */
  strides?: Size2;
  /** Default 'valid'. */
  padding?: Padding;
  /** Default true; turn it off before a batch norm, which has its own offset. */
  useBias?: boolean;
  /** Default 'linear'. */
  activation?: Activation;
}

export interface PoolOptions extends Named {
  /** Default 2. */
  size?: Size2;
  /** Default: the pool size. */
  strides?: Size2;
  /** Default 'valid'. */
  padding?: Padding;
}

export interface DenseOptions extends Named {
  units: number;
  /** Default 'linear'. */
  activation?: Activation;
  /** Default true. */
  useBias?: boolean;
}

export interface BatchNormOptions extends Named {
  /** Default 0.99 (Keras). */
  momentum?: number;
  /** Default 0.001 (Keras). */
  epsilon?: number;
}

export interface ConcatenateOptions extends Named {
  /** Default -1: the channels. */
  axis?: number;
}

const size2 = (s: Size2): number | [number, number] => (typeof s === 'number' ? s : [s[0], s[1]]);

export class GraphBuilder {
  /** Applies any TF.js layer to one or more nodes: the way out for layers this builder does not wrap. */
  layer(layer: tfl.layers.Layer, x: Node | readonly Node[]): Node {
    const out = layer.apply(Array.isArray(x) ? [...x] : (x as Node));
    if (Array.isArray(out) || !(out instanceof tfl.SymbolicTensor)) {
      throw new Error(`${layer.name}: expected one symbolic output, got ${Array.isArray(out) ? `${out.length} outputs` : 'a concrete tensor'}`);
    }
    return out;
  }

  conv2d(x: Node, o: Conv2dOptions): Node {
    return this.layer(
      tfl.layers.conv2d({
        name: o.name,
        filters: o.filters,
        kernelSize: size2(o.kernel ?? 3),
        strides: size2(o.strides ?? 1),
        padding: o.padding ?? 'valid',
        useBias: o.useBias ?? true,
        activation: o.activation ?? 'linear',
        kernelInitializer: 'glorotUniform',
      }),
      x,
    );
  }

  /** Multiplies by a constant (Keras Rescaling): e.g. to temper the logits of a classifier. */
  scale(x: Node, factor: number, o: Named = {}): Node {
    return this.layer(tfl.layers.rescaling({ name: o.name, scale: factor, offset: 0 }), x);
  }

  batchNorm(x: Node, o: BatchNormOptions = {}): Node {
    return this.layer(tfl.layers.batchNormalization({ name: o.name, momentum: o.momentum, epsilon: o.epsilon }), x);
  }

  activation(x: Node, activation: Activation, o: Named = {}): Node {
    return this.layer(tfl.layers.activation({ name: o.name, activation }), x);
  }

  relu(x: Node, o: Named = {}): Node {
    return this.activation(x, 'relu', o);
  }

  maxPool(x: Node, o: PoolOptions = {}): Node {
    const size = size2(o.size ?? 2);
    return this.layer(tfl.layers.maxPooling2d({ name: o.name, poolSize: size, strides: o.strides === undefined ? size : size2(o.strides), padding: o.padding ?? 'valid' }), x);
  }

  /** Element-wise sum of nodes of one shape (a residual connection). */
  add(xs: readonly Node[], o: Named = {}): Node {
    return this.layer(tfl.layers.add({ name: o.name }), xs);
  }

  /** Joins nodes along one axis (default: the channels). */
  concatenate(xs: readonly Node[], o: ConcatenateOptions = {}): Node {
    return this.layer(tfl.layers.concatenate({ name: o.name, axis: o.axis ?? -1 }), xs);
  }

  /** The mean of each channel over height and width: [batch, h, w, c] -> [batch, c]. */
  globalAveragePooling(x: Node, o: Named = {}): Node {
    return this.layer(tfl.layers.globalAveragePooling2d({ name: o.name }), x);
  }

  flatten(x: Node, o: Named = {}): Node {
    return this.layer(tfl.layers.flatten({ name: o.name }), x);
  }

  dense(x: Node, o: DenseOptions): Node {
    return this.layer(
      tfl.layers.dense({ name: o.name, units: o.units, activation: o.activation ?? 'linear', useBias: o.useBias ?? true, kernelInitializer: 'glorotUniform' }),
      x,
    );
  }

  dropout(x: Node, rate: number, o: Named = {}): Node {
    return this.layer(tfl.layers.dropout({ name: o.name, rate }), x);
  }
}
