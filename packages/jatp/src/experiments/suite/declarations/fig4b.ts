/** Fig. 4(b) (spec §6.3): JATP trained with the TRADES target without the pixel loss, the BCE or the FSM term, evaluated on all four targets. */
import type { TargetRecipeName } from '../../../targets/presets.js';
import { TARGET_LABELS, defenseLabel } from '../cells.js';
import type { Ablation } from '../scales.js';
import { defense, entries, evalCell, target, type ExperimentDeclaration } from './types.js';

const TARGETS: readonly TargetRecipeName[] = ['trades', 'standard', 'mma', 'mart'];
const VARIANTS: readonly Ablation[] = ['none', 'no-pixel', 'no-bce', 'no-fsm'];

export const fig4b: ExperimentDeclaration = {
  name: 'fig4b',
  title: 'Fig. 4(b): ablation of the JATP loss',
  panels: (seeds) => [
    {
      id: 'fig4b',
      title: 'Fig. 4(b): JATP ablations, accuracy (%) under adaptive PGD on four targets',
      paperClaim: 'Removing the pixel loss mainly hurts transfer to other targets; removing BCE or FSM causes a significant robustness degradation.',
      chart: 'ablation-bars',
      entries: TARGETS.flatMap((recipe) =>
        VARIANTS.flatMap((ablation) =>
          entries(seeds, defenseLabel(defense('jatp', 'trades', 0, { ablation })), TARGET_LABELS[recipe], ['PGD'], (attack, s) =>
            evalCell(target(recipe, s), defense('jatp', 'trades', s, { ablation }), attack, s),
          ),
        ),
      ),
    },
  ],
};
