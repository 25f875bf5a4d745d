/**
 * The demo page: loads demo.json and the tfjs models, lets the user pick a bundled test image or
 * drop one in, attacks the classifier alone, the classifier behind a baseline pre-processor (when
 * given) and the defended full model with the same attack and budget, and shows the natural,
 * adversarial and purified images side by side.
 *
 * `window.jatpDemo` exposes the state and the last results (numbers only) for the browser tests;
 * `document.body.dataset.status` is 'loading' | 'ready' | 'running' | 'done' | 'error'.
 */
// The union package first: it registers tfjs' gradient functions, which the toolkit's attacks need.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { pickBackend } from './backend.js';
import type { DemoConfig } from './config.js';
import { loadModels, type LoadedModels, type Pipeline } from './models.js';
import { attackPipeline, disposeResult, predict, type AttackName, type AttackSettings, type PipelineResult } from './attack.js';
import { bundledImage, drawImage, imageFromFile, perturbationImage } from './images.js';
import { el, imageCard, pct, statsTable } from './view.js';

type Status = 'loading' | 'ready' | 'running' | 'done' | 'error';

/** What the tests read: numbers only, no tensors. */
export interface DemoState {
  status: Status;
  backend?: string;
  /** Backends tried before `backend`, each with the reason it was not used. */
  backendsSkipped?: string[];
  error?: string;
  /** Predictions of every pipeline on every bundled image, computed once after loading. */
  bundledPredictions?: Record<string, { label: number; probabilities: number[] }[]>;
  /** tf.memory().numTensors after the last attack (models + the images on show). */
  numTensors?: number;
  results?: Array<Omit<PipelineResult, 'xAdv' | 'purifiedNatural' | 'purifiedAdversarial'>>;
  run?: (settings?: Partial<AttackSettings>) => Promise<void>;
  select?: (index: number) => Promise<void>;
}

declare global {
  interface Window {
    jatpDemo: DemoState;
  }
}

const state: DemoState = { status: 'loading' };
window.jatpDemo = state;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const statusLine = $('status');
const form = $<HTMLFormElement>('attack-form');
const runButton = $<HTMLButtonElement>('run');
const results = $('results');

function setStatus(status: Status, text: string): void {
  state.status = status;
  document.body.dataset['status'] = status;
  statusLine.textContent = text;
}

let config: DemoConfig;
let models: LoadedModels;
/** The image being attacked and its label (the true one, or the classifier's guess for a dropped image). */
let current: { x: tf.Tensor4D; label: number; labelKnown: boolean } | undefined;
let shown: PipelineResult[] = [];

async function selectTensor(x: tf.Tensor4D, label: number | undefined): Promise<void> {
  current?.x.dispose();
  let labelKnown = true;
  if (label === undefined) {
    label = (await predict(models.pipelines[0]!, x)).label;
    labelKnown = false;
  }
  current = { x, label, labelKnown };
  results.replaceChildren();
  shown.forEach(disposeResult);
  shown = [];
}

async function selectBundled(index: number): Promise<void> {
  const img = config.images[index];
  if (!img) throw new Error(`no bundled image ${index} (there are ${config.images.length})`);
  document.querySelectorAll('#gallery button').forEach((b, i) => b.setAttribute('aria-pressed', String(i === index)));
  await selectTensor(bundledImage(img, config.imageShape), img.label);
}

function readForm(): AttackSettings {
  const data = new FormData(form);
  return {
    attack: String(data.get('attack')) as AttackName,
    eps: Number(data.get('eps')),
    steps: Number(data.get('steps')),
    stepSize: Number(data.get('stepSize')),
    seed: 0,
  };
}

async function renderPipeline(p: Pipeline, r: PipelineResult, x: tf.Tensor4D, eps: number): Promise<HTMLElement> {
  const names = config.classNames;
  const box = el('article', { class: 'pipeline', 'data-testid': `result-${p.id}` });
  box.append(el('h3', {}, p.title));
  const cards = el('div', { class: 'cards' });
  cards.append(await imageCard('natural x', x, r.natural, r.label, names, `${p.id}-natural`));
  cards.append(await imageCard(`adversarial x_adv (${r.attackName})`, r.xAdv, r.adversarial, r.label, names, `${p.id}-adversarial`));
  const delta = perturbationImage(r.xAdv, x, eps);
  cards.append(await imageCard('perturbation (grey = 0, ±ε)', delta, undefined, r.label, names, `${p.id}-perturbation`));
  delta.dispose();
  if (r.purifiedNatural && r.purifiedAdversarial) {
    cards.append(await imageCard('purified P(x)', r.purifiedNatural, r.natural, r.label, names, `${p.id}-purified-natural`));
    cards.append(await imageCard('purified P(x_adv)', r.purifiedAdversarial, r.adversarial, r.label, names, `${p.id}-purified-adversarial`));
  }
  box.append(cards);
  const verdict = el('p', { class: `verdict ${r.success ? 'bad' : 'ok'}` });
  if (r.natural.label !== r.label) verdict.textContent = `Misclassified without any attack (${names[r.label]} → ${names[r.natural.label]})`;
  else if (r.success) verdict.textContent = `Attack succeeded: ${names[r.label]} → ${names[r.adversarial.label]}`;
  else verdict.textContent = `Attack failed: still ${names[r.label]} (${pct(r.adversarial.probability)})`;
  box.append(verdict);
  box.append(
    statsTable([
      ['L∞ ‖x_adv − x‖', r.linf.toFixed(4)],
      ['L1 ‖x_adv − x‖', r.l1.toFixed(2)],
      ...(r.l1PurifiedVsNatural === undefined ? [] : [['L1 ‖P(x_adv) − x‖', r.l1PurifiedVsNatural.toFixed(2)] as const]),
      ['time per attack step', `${r.msPerStep.toFixed(1)} ms`],
      ['attack total', `${r.totalMs.toFixed(0)} ms (${state.backend})`],
    ]),
  );
  return box;
}

async function runAttack(overrides: Partial<AttackSettings> = {}): Promise<void> {
  if (!current) throw new Error('select an image first');
  const settings = { ...readForm(), ...overrides };
  if (!(settings.eps > 0) || !(settings.steps >= 1) || !(settings.stepSize > 0)) {
    throw new Error('ε, steps and step size must be positive numbers');
  }
  runButton.disabled = true;
  shown.forEach(disposeResult);
  shown = [];
  results.replaceChildren();
  const boxes: HTMLElement[] = [];
  try {
    for (const p of models.pipelines) {
      setStatus('running', `Running ${settings.attack} (${settings.steps} steps, ε = ${settings.eps}) on: ${p.title}…`);
      await tf.nextFrame(); // let the status line paint before the synchronous attack loop
      const r = await attackPipeline(p, current.x, current.label, settings);
      shown.push(r);
      boxes.push(await renderPipeline(p, r, current.x, settings.eps));
      results.replaceChildren(...boxes);
    }
    state.results = shown.map(({ xAdv: _a, purifiedNatural: _n, purifiedAdversarial: _p, ...numbers }) => numbers);
    const note = current.labelKnown ? '' : ' (dropped image: the label is the classifier\'s prediction on it)';
    state.numTensors = tf.memory().numTensors;
    setStatus('done', `Done on ${state.backend}${note}. tf.memory(): ${state.numTensors} tensors.`);
  } finally {
    runButton.disabled = false;
  }
}

async function buildGallery(): Promise<void> {
  const gallery = $('gallery');
  for (const [i, img] of config.images.entries()) {
    const button = el('button', { type: 'button', 'aria-pressed': 'false', title: `${config.classNames[img.label]} (test image ${img.testIndex})`, 'data-index': String(i) });
    const canvas = el('canvas');
    const x = bundledImage(img, config.imageShape);
    await drawImage(canvas, x);
    x.dispose();
    button.append(canvas);
    button.addEventListener('click', () => void guarded(() => selectBundled(i)));
    gallery.append(button);
  }
}

function wireDropZone(): void {
  const zone = $('dropzone');
  const input = $<HTMLInputElement>('file');
  const take = (file: File | undefined): void => {
    if (!file) return;
    void guarded(async () => {
      document.querySelectorAll('#gallery button').forEach((b) => b.setAttribute('aria-pressed', 'false'));
      await selectTensor(await imageFromFile(file, config.imageShape), undefined);
      setStatus('ready', `Dropped image "${file.name}" loaded; its label is taken to be the classifier's prediction.`);
    });
  };
  input.addEventListener('change', () => take(input.files?.[0]));
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    take(e.dataTransfer?.files[0]);
  });
}

/** Every user action goes through here, so a failure shows in the status line instead of vanishing. */
async function guarded(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (err) {
    state.error = (err as Error).message;
    setStatus('error', `Error: ${state.error}`);
    runButton.disabled = false;
  }
}

function describeModels(): void {
  const line = (role: string, m: DemoConfig['classifier']): HTMLElement => {
    const p = el('div');
    p.append(el('b', {}, `${role}: `), document.createTextNode(`${m.arch} ${JSON.stringify(m.options)} — ${m.source}`));
    return p;
  };
  const box = $('models');
  box.append(line('Classifier T', config.classifier));
  if (config.baseline) box.append(line('Baseline pre-processor B', config.baseline));
  // The note on the degradation effect only makes sense with the baseline row on show.
  $('rows-note').hidden = !config.baseline;
  if (config.preprocessor) box.append(line('Pre-processor P', config.preprocessor));
  if (!config.preprocessor && !config.baseline) box.append(el('div', {}, 'No pre-processor given: only the classifier is attacked.'));
  const skipped = state.backendsSkipped?.length ? ` (not used: ${state.backendsSkipped.join('; ')})` : '';
  box.append(el('div', {}, `Dataset: ${config.dataset} (${config.imageShape.join('×')}); tfjs backend: ${state.backend}${skipped}`));
}

/** Predictions of each pipeline on every bundled image (one batch), for the Node-vs-browser test. */
async function predictBundled(): Promise<void> {
  const xs = tf.concat(config.images.map((img) => bundledImage(img, config.imageShape)));
  const out: NonNullable<DemoState['bundledPredictions']> = {};
  for (const p of models.pipelines) {
    const probs = tf.tidy(() => tf.softmax(p.logits(xs as tf.Tensor4D)));
    const values = Array.from(await probs.data());
    probs.dispose();
    const k = config.classNames.length;
    out[p.id] = config.images.map((_, i) => {
      const row = values.slice(i * k, (i + 1) * k);
      return { label: row.indexOf(Math.max(...row)), probabilities: row };
    });
  }
  xs.dispose();
  state.bundledPredictions = out;
}

async function start(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const { backend, tried } = await pickBackend(params.get('backend'));
  state.backend = backend;
  state.backendsSkipped = tried;
  const response = await fetch('demo.json');
  if (!response.ok) throw new Error(`demo.json: HTTP ${response.status}`);
  config = (await response.json()) as DemoConfig;
  if (config.format !== 'jatp-demo/1') throw new Error(`demo.json: unexpected format '${String(config.format)}'`);
  models = await loadModels(config);
  describeModels();
  (form.elements.namedItem('eps') as HTMLInputElement).value = String(config.defaults.eps);
  (form.elements.namedItem('steps') as HTMLInputElement).value = String(config.defaults.steps);
  (form.elements.namedItem('stepSize') as HTMLInputElement).value = String(config.defaults.stepSize);
  await buildGallery();
  wireDropZone();
  await predictBundled();
  if (config.images.length > 0) await selectBundled(0);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void guarded(() => runAttack());
  });
  state.run = (s) => runAttack(s);
  state.select = (i) => selectBundled(i);
  runButton.disabled = false;
  setStatus('ready', `Ready on the ${backend} backend. Pick an image and run an attack.`);
}

void guarded(start);
