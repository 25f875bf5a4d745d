/**
 * JATP′ — the relaxed JATP variant of Table 2 (spec §2.7, A9): the same loss (Eqs. 6–10) minimised
 * over the pre-processor P *and* the target T together, with one optimizer (same schedule). T starts
 * from the pre-trained target, is in eval mode while crafting x~* (Eq. 5) and in train mode (BN batch
 * statistics, running statistics updated) for the update step. After training only P is kept and is
 * evaluated in front of other targets; the jointly trained T is saved beside it for inspection.
 *
 * Usage: `new JatpJointRecipe(purifier, target, options)` with the JatpRecipe options.
 */
import { JatpRecipe } from './jatp.js';

/** JATP′: JATP with the target classifier updated jointly with the pre-processor. */
export class JatpJointRecipe extends JatpRecipe {
  override readonly name: string = 'jatp-joint';
  protected override readonly updateTarget: boolean = true;
}
