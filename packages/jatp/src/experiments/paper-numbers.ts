/**
 * The paper's reported numbers (spec §6: Table 1, Table 2, Fig. 2(b)), copied into the repository so
 * that the experiment report can put them beside ours. CIFAR-10, ResNet-18 targets, L∞ ε = 8/255,
 * white-box accuracy in percent. Table 2's standard deviations are in the paper's supplement, which
 * is not available; the figures (Fig. 1, 2(a), 4) carry no numbers in the text.
 */

export interface PaperValue {
  readonly mean: number;
  readonly std?: number;
}

/** Table 1: TRADES target; rows = pre-processors, columns = Natural and the five attacks. */
export const PAPER_TABLE1: Readonly<Record<string, Readonly<Record<string, PaperValue>>>> = {
  None: { Natural: { mean: 78.45, std: 0.06 }, PGD: { mean: 47.48, std: 0.05 }, DLR: { mean: 45.02, std: 0.01 }, AA: { mean: 44.1, std: 0.07 }, FWA: { mean: 34.39, std: 0.06 }, 'TI-BIM': { mean: 59.67, std: 0.02 } },
  'APE-G': { Natural: { mean: 78.4, std: 0.08 }, PGD: { mean: 34.94, std: 0.07 }, DLR: { mean: 33.11, std: 0.01 }, AA: { mean: 16.35, std: 0.06 }, FWA: { mean: 23.71, std: 0.03 }, 'TI-BIM': { mean: 57.8, std: 0.04 } },
  HGD: { Natural: { mean: 78.17, std: 0.08 }, PGD: { mean: 13.84, std: 0.03 }, DLR: { mean: 12.66, std: 0.01 }, AA: { mean: 17.36, std: 0.07 }, FWA: { mean: 12.5, std: 0.01 }, 'TI-BIM': { mean: 56.9, std: 0.05 } },
  NRP: { Natural: { mean: 78.38, std: 0.08 }, PGD: { mean: 24.28, std: 0.08 }, DLR: { mean: 22.94, std: 0.07 }, AA: { mean: 18.51, std: 0.05 }, FWA: { mean: 11.78, std: 0.08 }, 'TI-BIM': { mean: 57.4, std: 0.07 } },
  JATP: { Natural: { mean: 79.0, std: 0.03 }, PGD: { mean: 46.14, std: 0.01 }, DLR: { mean: 43.54, std: 0.03 }, AA: { mean: 43.25, std: 0.04 }, FWA: { mean: 31.57, std: 0.05 }, 'TI-BIM': { mean: 60.04, std: 0.06 } },
};

type Row4 = Readonly<Record<'Natural' | 'PGD' | 'DLR' | 'FWA', number>>;

/** Table 2: pre-processors trained against the TRADES target, placed in front of other targets. */
export const PAPER_TABLE2: Readonly<Record<string, Readonly<Record<'Standard' | 'MMA' | 'MART', Row4>>>> = {
  None: { Standard: { Natural: 82.38, PGD: 43.29, DLR: 43.27, FWA: 24.39 }, MMA: { Natural: 82.88, PGD: 43.56, DLR: 42.6, FWA: 21.97 }, MART: { Natural: 78.19, PGD: 48.54, DLR: 44.9, FWA: 34.28 } },
  'APE-G': { Standard: { Natural: 82.54, PGD: 27.35, DLR: 30.68, FWA: 14.17 }, MMA: { Natural: 82.53, PGD: 29.02, DLR: 30.59, FWA: 13.18 }, MART: { Natural: 78.28, PGD: 34.34, DLR: 32.15, FWA: 21.28 } },
  HGD: { Standard: { Natural: 82.64, PGD: 7.86, DLR: 10.23, FWA: 6.97 }, MMA: { Natural: 82.17, PGD: 9.09, DLR: 10.29, FWA: 7.24 }, MART: { Natural: 77.74, PGD: 10.97, DLR: 11.31, FWA: 10.09 } },
  NRP: { Standard: { Natural: 82.43, PGD: 13.71, DLR: 17.72, FWA: 5.01 }, MMA: { Natural: 82.52, PGD: 16.56, DLR: 18.46, FWA: 4.5 }, MART: { Natural: 77.95, PGD: 21.32, DLR: 20.26, FWA: 9.64 } },
  JATP: { Standard: { Natural: 83.65, PGD: 41.65, DLR: 42.75, FWA: 22.07 }, MMA: { Natural: 83.14, PGD: 41.73, DLR: 40.89, FWA: 19.29 }, MART: { Natural: 79.25, PGD: 46.75, DLR: 43.29, FWA: 31.54 } },
  "JATP′": { Standard: { Natural: 82.45, PGD: 43.89, DLR: 42.99, FWA: 24.86 }, MMA: { Natural: 82.29, PGD: 42.82, DLR: 41.64, FWA: 19.82 }, MART: { Natural: 77.89, PGD: 48.29, DLR: 45.0, FWA: 35.04 } },
};

/** Fig. 2(b): mean L1 (per element, 0–255 scale) under adaptive PGD; which pre-processor is not stated (A20). */
export const PAPER_FIG2B = { adversarialVsNatural: 7.51, purifiedVsNatural: 18.68 } as const;

/** The paper's value for a table cell, if it reports one (`group` = target for Table 2). */
export function paperValue(experiment: string, row: string, group: string | undefined, column: string): PaperValue | undefined {
  // The quick start is Table 1 in small: same rows and columns where it has them.
  if (experiment === 'table1' || experiment === 'quickstart') return PAPER_TABLE1[row]?.[column];
  if (experiment === 'table2' && group !== undefined) {
    const v = (PAPER_TABLE2[row] as Record<string, Record<string, number>> | undefined)?.[group]?.[column];
    return v === undefined ? undefined : { mean: v };
  }
  return undefined;
}
