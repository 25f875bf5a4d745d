/** Every experiment, by name; `all` is their union (shared cells run once). */
import { fig1 } from './fig1.js';
import { fig4a } from './fig4a.js';
import { fig4b } from './fig4b.js';
import { table1 } from './table1.js';
import { table2 } from './table2.js';
import { quickstart } from './quickstart.js';
import { EXPERIMENT_NAMES, EXTRA_EXPERIMENT_NAMES, type ExperimentDeclaration, type ExperimentName } from './types.js';

export const EXPERIMENTS: Readonly<Record<ExperimentName, ExperimentDeclaration>> = { table1, table2, fig1, fig4a, fig4b, quickstart };

/** 'table1' -> [table1]; 'all' -> every experiment; a comma list works too. */
export function parseExperimentNames(text: string): ExperimentName[] {
  const names = text === 'all' ? [...EXPERIMENT_NAMES] : text.split(',').map((s) => s.trim());
  for (const n of names) {
    if (![...EXPERIMENT_NAMES, ...EXTRA_EXPERIMENT_NAMES].includes(n as ExperimentName)) {
      throw new Error(`experiment: '${n}' is not one of ${[...EXPERIMENT_NAMES, ...EXTRA_EXPERIMENT_NAMES].join(', ')}, all`);
    }
  }
  return names as ExperimentName[];
}

export { EXPERIMENT_NAMES, EXTRA_EXPERIMENT_NAMES };
export type { ExperimentDeclaration, ExperimentName };
