/**
 * The contract between the site builder (Node, scripts/site.ts) and the page: `demo.json`, written
 * next to index.html. Types only, so both sides import it without pulling code across.
 */

/** One bundled test image, stored as its raw bytes (NHWC, 0..255) in base64. */
export interface DemoImage {
  readonly label: number;
  /** Index in the dataset's test split, so a figure can be traced back to its image. */
  readonly testIndex: number;
  readonly pixelsBase64: string;
}

export interface DemoModelInfo {
  /** URL of the tfjs `model.json`, relative to index.html. */
  readonly url: string;
  /** Registry architecture and options, from the weights sidecar or the export's metadata. */
  readonly arch: string;
  readonly options: Readonly<Record<string, unknown>>;
  /** Where the weights came from (a path on the machine that built the site), shown in the page. */
  readonly source: string;
}

export interface DemoConfig {
  readonly format: 'jatp-demo/1';
  readonly dataset: string;
  readonly classNames: readonly string[];
  /** [height, width, channels] the models take. */
  readonly imageShape: readonly [number, number, number];
  readonly images: readonly DemoImage[];
  readonly classifier: DemoModelInfo;
  /** The defense under test (JATP in the default demo). */
  readonly preprocessor?: DemoModelInfo;
  /**
   * A baseline pre-processor trained on oblivious adversarial examples (APE-G or HGD, spec §4), shown
   * as a third pipeline so its degradation effect can be compared with the defense.
   */
  readonly baseline?: DemoModelInfo;
  /** Attack defaults shown in the form: the paper's budget for the dataset (spec §5). */
  readonly defaults: { readonly eps: number; readonly steps: number; readonly stepSize: number };
}
