/**
 * Messages between the audit page and its worker. Types only, so the page bundle does not pull in
 * tfjs (the page stays light; all tensors live in the worker).
 */

/** Where a model comes from: a model.json URL, or files the user dropped (model.json + weight shards). */
export type ModelSource = { readonly kind: 'url'; readonly url: string } | { readonly kind: 'files'; readonly files: readonly File[] };

/** The input ranges a tfjs classifier may expect; the attacks always work on [0, 1] images. */
export type PixelRange = '0-1' | '0-255' | '-1-1';
export const PIXEL_RANGES: readonly PixelRange[] = ['0-1', '0-255', '-1-1'];

/** Backends the page can use, in the order `auto` tries them. */
export const BACKENDS = ['webgpu', 'wasm', 'webgl', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface AuditJob {
  /** 'auto' or one backend. */
  readonly backend: 'auto' | BackendName;
  readonly classifier: ModelSource;
  readonly preprocessor?: ModelSource;
  readonly pixelRange: PixelRange;
  /** Test images, uint8 HWC, `count` of them back to back. */
  readonly images: Uint8Array;
  readonly labels: Int32Array;
  readonly imageShape: readonly [number, number, number];
  readonly classNames: readonly string[];
  /** Where the images come from, e.g. 'fashion-mnist' or 'my folder'. */
  readonly dataset: string;
  readonly eps: number;
  readonly norm: 'Linf' | 'L2';
  /** Attack names as `jatp eval --attacks` takes them, e.g. ['pgd20', 'aa']. */
  readonly attacks: readonly string[];
  readonly seed: number;
  readonly batchSize: number;
  /** Described in the JSON as `model` / `preprocessor` (what `jatp eval` writes there). */
  readonly describe: { readonly model: string; readonly preprocessor?: string };
}

/** One image an attack fooled: the adversarial image (uint8 HWC) and what the model said. */
export interface FallenImage {
  readonly index: number;
  readonly label: number;
  readonly attack: string;
  readonly predicted: number;
  readonly adversarial: Uint8Array;
}

export type WorkerMessage =
  | { readonly type: 'backend'; readonly backend: string; readonly detail: string; readonly tried: readonly string[] }
  | { readonly type: 'progress'; readonly stage: string; readonly done: number; readonly total: number; readonly elapsedMs: number }
  | {
      readonly type: 'done';
      /** Exactly what `jatp eval --json` writes. */
      readonly payload: Record<string, unknown>;
      /** The evaluation state (`.state.json`), which `jatp eval merge` and `--resume` read. */
      readonly state: Record<string, unknown>;
      readonly fallen: readonly FallenImage[];
      readonly warnings: readonly string[];
    }
  | { readonly type: 'error'; readonly message: string }
  | BenchResult
  | { readonly type: 'bench-done' };

/** `npm run bench:web`: time the toolkit's PGD through a model on one backend, per batch size. */
export interface BenchJob {
  readonly backend: BackendName;
  readonly classifierUrl: string;
  readonly preprocessorUrl?: string;
  readonly imageShape: readonly [number, number, number];
  readonly batchSizes: readonly number[];
  /** Stop adding repeats once one batch size has taken this long. */
  readonly budgetMs: number;
}

export interface BenchResult {
  readonly type: 'bench';
  readonly backend: string;
  readonly detail: string;
  readonly batch: number;
  /** One entry per timed repeat: milliseconds per PGD step. */
  readonly msPerStep: readonly number[];
  readonly steps: number;
}

export type PageMessage = { readonly type: 'run'; readonly job: AuditJob } | { readonly type: 'bench'; readonly job: BenchJob };
