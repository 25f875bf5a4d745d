/**
 * The threat model belongs to the data: which L∞ budget an attacker gets on a dataset, and the attack
 * step sizes tied to that budget. Every default ε of the toolkit (the CLI's `--eps`, the target and
 * defense presets, the experiment suite, the attacks' own defaults) is read from here, so that the
 * decision is made once.
 */

/** The paper's L∞ budget on 32x32 colour images with pixels in [0, 1] (spec §5): 8/255. */
export const PAPER_EPS = 8 / 255;

/** The attacker a dataset is evaluated and adversarially trained against. */
export interface DatasetThreatModel {
  /** L∞ radius in [0, 1] pixel units. */
  readonly eps: number;
  /**
   * Default L2 radius (pixels in [0, 1]) for `--norm L2` without `--eps`: the customary value of the
   * dataset's L2 leaderboards, not the L∞ number (which would be a far smaller ball).
   */
  readonly l2Eps: number;
  /** Values per image (H x W x C); sqrt of it is the L2 distance between an all-0 and an all-1 image, the largest L2 budget that means anything. */
  readonly inputSize: number;
  /** Sign step of the 10-step training PGD of the target recipes (spec §3.2). */
  readonly trainAttackStepSize: number;
  /** Step of the 20-step per-epoch evaluation PGD of the `paper` target preset. */
  readonly evalStepSize: number;
}

/** Colour 32x32 data (CIFAR-10, SVHN, image folders): the paper's budget, PGD-10 of step 0.007 in training (spec §3.2). */
export const COLOUR_THREAT_MODEL: DatasetThreatModel = { eps: PAPER_EPS, l2Eps: 0.5, inputSize: 32 * 32 * 3, trainAttackStepSize: 0.007, evalStepSize: 2 / 255 };

/**
 * (Fashion-)MNIST, which the paper does not cover: the customary ε = 0.1, and training steps of
 * 2.5·ε/10 = 0.025 (Madry's rule for 10 steps, so the attack can cross the ball and come back).
 * The L2 default 1.5 is the value used for Fashion-MNIST L2 evaluations (MNIST's leaderboards use
 * 2.0; 1.5 is kept for the whole family so that one number covers both).
 */
export const GREYSCALE_THREAT_MODEL: DatasetThreatModel = { eps: 0.1, l2Eps: 1.5, inputSize: 28 * 28, trainAttackStepSize: 0.025, evalStepSize: 0.01 };

/** Whether a dataset name (a canonical name, an alias or a folder path) is one of the (Fashion-)MNIST family. */
export function isMnistFamily(dataset: string): boolean {
  return /mnist/i.test(dataset);
}

/** The threat model of a dataset by name. */
export function threatModelOf(dataset: string): DatasetThreatModel {
  return isMnistFamily(dataset) ? GREYSCALE_THREAT_MODEL : COLOUR_THREAT_MODEL;
}
