/**
 * Layers of fashion-cnn's own that transfer models are made of. They are registered with
 * TF.js's serialization registry when this module loads, so a saved transfer model loads again
 * (io.ts imports this module for that reason).
 */
import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { PixelPreprocess } from './spec.js';

type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;
type Shape = (number | null)[];
type Kwargs = Parameters<tfl.LayersModel['call']>[1];

export interface ImageAdapterArgs extends LayerArgs {
  /** Height, width and channels of the images coming out. */
  height: number;
  width: number;
  channels: number;
  /** Default 'unit' (pixels stay in [0,1]); models saved before the field existed load as 'unit'. */
  preprocess?: PixelPreprocess;
}

/**
 * Keras's `preprocess_input` in "caffe" mode (VGG, ResNet50), which expects 0-255 RGB: channels
 * reversed to BGR, then ImageNet's mean of each BGR channel subtracted.
 */
export const CAFFE_BGR_MEANS = [103.939, 116.779, 123.68] as const;

/**
 * Brings a batch of images to the channel count, pixel scale and size a backbone takes: grey
 * repeated into every channel, the backbone's own pixel preprocessing (see PixelPreprocess), then
 * a bilinear resize (half-pixel centres, like TF2's tf.image.resize). It has no weights.
 */
export class ImageAdapter extends tfl.layers.Layer {
  static className = 'ImageAdapter';
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly preprocess: PixelPreprocess;

  constructor(args: ImageAdapterArgs) {
    super(args);
    this.height = args.height;
    this.width = args.width;
    this.channels = args.channels;
    this.preprocess = args.preprocess ?? 'unit';
    if (this.preprocess === 'caffe' && this.channels !== 3) throw new Error(`${this.name}: caffe preprocessing is for 3-channel (RGB) images, not ${this.channels}`);
  }

  private static single<T>(x: T | T[]): T {
    return Array.isArray(x) ? x[0] : x;
  }

  private checkChannels(from: number | null): void {
    if (from !== this.channels && from !== 1) {
      throw new Error(`${this.name}: cannot turn images with ${from} channels into ${this.channels} channels (only grey can be repeated)`);
    }
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = Array.isArray(inputShape[0]) ? (inputShape[0] as Shape) : (inputShape as Shape);
    if (s.length !== 4) throw new Error(`${this.name}: expected a batch of images [batch, height, width, channels], got ${JSON.stringify(s)}`);
    this.checkChannels(s[3]);
    return [s[0], this.height, this.width, this.channels];
  }

  override call(inputs: tfc.Tensor | tfc.Tensor[]): tfc.Tensor {
    return tfc.tidy(() => {
      const x = ImageAdapter.single(inputs) as tfc.Tensor4D;
      const [, h, w, c] = x.shape;
      this.checkChannels(c);
      // Colour and scale first, on the small images: a bilinear resize is linear per channel, so the
      // order gives the same pixels (up to rounding) for far less work at 224x224.
      const coloured = c === this.channels ? x : tfc.tile(x, [1, 1, 1, this.channels]);
      const scaled = this.preprocess === 'unit' ? coloured : tfc.sub(tfc.mul(tfc.reverse(coloured, -1), 255), tfc.tensor1d([...CAFFE_BGR_MEANS]));
      return h === this.height && w === this.width ? scaled : tfc.image.resizeBilinear(scaled as tfc.Tensor4D, [this.height, this.width], false, true);
    });
  }

  override getConfig(): tfc.serialization.ConfigDict {
    return { ...super.getConfig(), height: this.height, width: this.width, channels: this.channels, preprocess: this.preprocess };
  }
}

/**
 * A pretrained model used as one layer of another: its weights are not trained, and it always
 * runs in inference mode (batch norm uses its moving statistics and does not update them, dropout
 * is off), as a frozen layer does in Keras. Both hold again after a save and load, because the
 * class is what is saved.
 */
export class FrozenBackbone extends tfl.LayersModel {
  static override className = 'FrozenBackbone';

  constructor(args: ConstructorParameters<typeof tfl.LayersModel>[0]) {
    super(args);
    this.trainable = false;
  }

  override call(inputs: tfc.Tensor | tfc.Tensor[], kwargs: Kwargs): tfc.Tensor | tfc.Tensor[] {
    return super.call(inputs, { ...kwargs, training: false });
  }
}

tfc.serialization.registerClass(ImageAdapter);
tfc.serialization.registerClass(FrozenBackbone);
