/**
 * Images in and out of the page: the bundled test images (raw bytes in demo.json), images the user
 * drops in (any format the browser decodes, resized to the model's input and converted to its
 * channel count), and drawing a [1,H,W,C] tensor in [0,1] onto a canvas.
 */
import * as tf from '@tensorflow/tfjs';
import type { DemoImage } from './config.js';

export function bundledImage(img: DemoImage, shape: readonly [number, number, number]): tf.Tensor4D {
  const bytes = Uint8Array.from(atob(img.pixelsBase64), (c) => c.charCodeAt(0));
  const [h, w, c] = shape;
  if (bytes.length !== h * w * c) throw new Error(`demo.json: image ${img.testIndex} has ${bytes.length} bytes, expected ${h * w * c}`);
  return tf.tidy(() => tf.div(tf.tensor4d(bytes, [1, h, w, c], 'float32'), 255) as tf.Tensor4D);
}

/** Decodes a dropped file and scales it (whole image, aspect ratio not kept) to the model's input. */
export async function imageFromFile(file: Blob, shape: readonly [number, number, number]): Promise<tf.Tensor4D> {
  const [h, w, c] = shape;
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error('the dropped file is not an image this browser can decode');
  }
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d')!;
  ctx.drawImage(bitmap, 0, 0, w, h);
  bitmap.close();
  const rgba = new Uint8Array(ctx.getImageData(0, 0, w, h).data.buffer);
  return tf.tidy(() => {
    const rgb = tf.div(tf.slice(tf.tensor3d(rgba, [h, w, 4], 'float32'), [0, 0, 0], [h, w, 3]), 255);
    // Grayscale models get the luma (ITU-R BT.601 weights), colour models the RGB channels.
    const img = c === 1 ? tf.sum(tf.mul(rgb, tf.tensor1d([0.299, 0.587, 0.114])), -1, true) : rgb;
    return tf.expandDims(img, 0) as tf.Tensor4D;
  });
}

/** Draws a [1,H,W,C] image in [0,1] (C = 1 or 3) onto `canvas` at its native size; CSS scales it up. */
export async function drawImage(canvas: HTMLCanvasElement, x: tf.Tensor4D): Promise<void> {
  const [, h, w] = x.shape;
  const rgb = tf.tidy(() => {
    const img = tf.squeeze(tf.clipByValue(x, 0, 1), [0]) as tf.Tensor3D;
    return img.shape[2] === 1 ? tf.tile(img, [1, 1, 3]) : img;
  });
  canvas.width = w;
  canvas.height = h;
  await tf.browser.toPixels(rgb, canvas);
  rgb.dispose();
}

/** The perturbation x_adv - x, mapped so that 0 is mid-grey and ±eps the extremes. */
export function perturbationImage(xAdv: tf.Tensor4D, x: tf.Tensor4D, eps: number): tf.Tensor4D {
  return tf.tidy(() => tf.add(0.5, tf.div(tf.sub(xAdv, x), 2 * eps)) as tf.Tensor4D);
}
