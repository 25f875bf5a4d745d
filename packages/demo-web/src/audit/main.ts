/**
 * The audit page's main thread: the form, the worker's progress bars with an ETA, cancel, and the
 * result card. No tfjs here (all tensors live in worker.ts), so the page stays responsive while
 * the attacks run. `?classifier=<url>&preprocessor=<url>&pixelRange=0-255` pre-fills the form,
 * so a deployed model can be linked straight into the audit.
 */
import type { AuditJob, FallenImage, ModelSource, PixelRange, WorkerMessage } from './protocol.js';
import { cardChecks, cardRows, type CardInput } from './card.js';

/** A bundled sample set (samples/<name>.json, written by the site builder). */
interface SampleSet {
  readonly name: string;
  readonly classNames: string[];
  readonly imageShape: [number, number, number];
  readonly labels: number[];
  readonly pixelsBase64: string;
}

const $ = <T extends HTMLElement>(sel: string): T => document.querySelector(sel) as T;
const form = $<HTMLFormElement>('#audit-form');
const statusEl = $('#status');
const progressEl = $('#progress');
const cardEl = $('#card');
const runButton = $<HTMLButtonElement>('#run');
const cancelButton = $<HTMLButtonElement>('#cancel');

function setStatus(text: string, kind: 'idle' | 'running' | 'done' | 'error' | 'cancelled'): void {
  statusEl.textContent = text;
  document.body.dataset['status'] = kind;
}

const samples = new Map<string, SampleSet>();

async function loadSampleIndex(): Promise<void> {
  const select = $<HTMLSelectElement>('#samples');
  try {
    const index = (await (await fetch('samples/index.json')).json()) as { name: string; file: string; count: number }[];
    for (const s of index) {
      const o = document.createElement('option');
      o.value = s.file;
      o.textContent = `${s.name} test images (${s.count} bundled)`;
      select.append(o);
    }
  } catch {
    const o = document.createElement('option');
    o.value = '';
    o.textContent = 'no bundled images (use your folder)';
    select.append(o);
  }
}

async function sampleSet(file: string): Promise<SampleSet> {
  if (!samples.has(file)) samples.set(file, (await (await fetch(`samples/${file}`)).json()) as SampleSet);
  return samples.get(file)!;
}

function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The user's folder: <root>/<class>/<image>; class folders named by index (0, 1, …) or by name (sorted). */
async function folderImages(files: File[], n: number): Promise<{ images: Uint8Array; labels: Int32Array; shape: [number, number, number]; classNames: string[] }> {
  const images = files.filter((f) => /\.(png|jpe?g|gif|bmp|webp)$/i.test(f.name));
  const classOf = (f: File): string => {
    const parts = (f.webkitRelativePath || f.name).split('/');
    return parts.length >= 2 ? parts[parts.length - 2]! : '';
  };
  if (images.length === 0) throw new Error('the folder holds no images (.png, .jpg, .gif, .bmp, .webp)');
  const classes = [...new Set(images.map(classOf))];
  if (classes.some((c) => c === '')) throw new Error('put the images in one sub-folder per class (e.g. my-images/0/a.png, my-images/1/b.png)');
  const numeric = classes.every((c) => /^\d+$/.test(c));
  const classNames = numeric ? Array.from({ length: Math.max(...classes.map(Number)) + 1 }, (_, i) => String(i)) : [...classes].sort();
  images.sort((a, b) => (a.webkitRelativePath || a.name).localeCompare(b.webkitRelativePath || b.name));
  const chosen = images.slice(0, n);
  const decoded: { data: Uint8ClampedArray; w: number; h: number; label: number }[] = [];
  for (const f of chosen) {
    const bmp = await createImageBitmap(f);
    const canvas = new OffscreenCanvas(bmp.width, bmp.height);
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(bmp, 0, 0);
    decoded.push({ data: ctx.getImageData(0, 0, bmp.width, bmp.height).data, w: bmp.width, h: bmp.height, label: numeric ? Number(classOf(f)) : classNames.indexOf(classOf(f)) });
  }
  const { w, h } = decoded[0]!;
  const odd = chosen.find((_, i) => decoded[i]!.w !== w || decoded[i]!.h !== h);
  if (odd) throw new Error(`the images differ in size: ${chosen[0]!.name} is ${w}×${h}, ${odd.name} is not`);
  const gray = decoded.every((d) => {
    for (let i = 0; i < d.data.length; i += 4) if (d.data[i] !== d.data[i + 1] || d.data[i] !== d.data[i + 2]) return false;
    return true;
  });
  const c = gray ? 1 : 3;
  const out = new Uint8Array(decoded.length * h * w * c);
  decoded.forEach((d, k) => {
    for (let p = 0; p < h * w; p++) for (let ch = 0; ch < c; ch++) out[(k * h * w + p) * c + ch] = d.data[p * 4 + ch]!;
  });
  return { images: out, labels: Int32Array.from(decoded.map((d) => d.label)), shape: [h, w, c], classNames };
}

/** ε as a number or a fraction like 8/255. */
function parseEps(text: string): number {
  const m = /^\s*([0-9.]+)\s*(?:\/\s*([0-9.]+))?\s*$/.exec(text);
  const v = m ? Number(m[1]) / (m[2] === undefined ? 1 : Number(m[2])) : NaN;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`ε: expected a positive number such as 0.1 or 8/255, got '${text}'`);
  return v;
}

function modelSource(url: string, files: FileList | null, what: string, required: boolean): ModelSource | undefined {
  if (files && files.length > 0) return { kind: 'files', files: [...files] };
  if (url.trim() !== '') return { kind: 'url', url: url.trim() };
  if (required) throw new Error(`the ${what}: give a model.json URL or drop its model.json and weight files`);
  return undefined;
}

function describe(s: ModelSource): string {
  return s.kind === 'url' ? s.url : `dropped files ${s.files.map((f) => f.name).join(', ')}`;
}

async function buildJob(): Promise<AuditJob> {
  const data = new FormData(form);
  const classifier = modelSource(String(data.get('classifierUrl') ?? ''), $<HTMLInputElement>('#classifier-files').files, 'classifier', true)!;
  const preprocessor = modelSource(String(data.get('preprocessorUrl') ?? ''), $<HTMLInputElement>('#preprocessor-files').files, 'pre-processor', false);
  const n = Math.max(1, Number(data.get('n')));
  const folder = $<HTMLInputElement>('#folder').files;
  let images: Uint8Array, labels: Int32Array, shape: [number, number, number], classNames: string[], dataset: string;
  if (folder && folder.length > 0) {
    ({ images, labels, shape, classNames } = await folderImages([...folder], n));
    dataset = `folder ${(folder[0]!.webkitRelativePath || folder[0]!.name).split('/')[0]}`;
  } else {
    const file = String(data.get('samples') ?? '');
    if (file === '') throw new Error('no test images: choose a bundled set or your labelled folder');
    const set = await sampleSet(file);
    const count = Math.min(n, set.labels.length);
    const size = set.imageShape[0] * set.imageShape[1] * set.imageShape[2];
    images = decodeBase64(set.pixelsBase64).subarray(0, count * size);
    labels = Int32Array.from(set.labels.slice(0, count));
    shape = set.imageShape;
    classNames = set.classNames;
    dataset = set.name;
  }
  const attacks = data.getAll('attack').map(String).map((a) => (a === 'pgd' ? `pgd${Number(data.get('pgdSteps'))}` : a === 'square' ? `square${Number(data.get('squareQueries'))}` : a));
  return {
    backend: String(data.get('backend')) as AuditJob['backend'],
    classifier,
    ...(preprocessor ? { preprocessor } : {}),
    pixelRange: String(data.get('pixelRange')) as PixelRange,
    images,
    labels,
    imageShape: shape,
    classNames,
    dataset,
    eps: parseEps(String(data.get('eps'))),
    norm: String(data.get('norm')) as 'Linf' | 'L2',
    attacks,
    seed: Number(data.get('seed')),
    batchSize: Number(data.get('batchSize')),
    describe: { model: describe(classifier), ...(preprocessor ? { preprocessor: describe(preprocessor) } : {}) },
  };
}

// ---------------------------------------------------------------------------------------------------
// Running

let worker: Worker | undefined;
let backendText = '';
let lastJob: AuditJob | undefined;

function seconds(ms: number): string {
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function progressRow(stage: string): HTMLElement {
  let row = progressEl.querySelector<HTMLElement>(`[data-stage="${CSS.escape(stage)}"]`);
  if (!row) {
    row = document.createElement('div');
    row.className = 'bar';
    row.dataset['stage'] = stage;
    row.innerHTML = `<span></span><progress max="1" value="0"></progress><span class="eta"></span>`;
    row.firstElementChild!.textContent = stage;
    progressEl.append(row);
  }
  return row;
}

function onProgress(stage: string, done: number, total: number, elapsedMs: number): void {
  const row = progressRow(stage);
  const bar = row.querySelector('progress')!;
  bar.max = total;
  bar.value = done;
  const eta = done > 0 && done < total ? `, about ${seconds((elapsedMs / done) * (total - done))} left` : '';
  row.querySelector('.eta')!.textContent = `${done}/${total} in ${seconds(elapsedMs)}${eta}`;
}

function finish(): void {
  worker?.terminate();
  worker = undefined;
  runButton.disabled = false;
  cancelButton.disabled = true;
}

function start(job: AuditJob): void {
  lastJob = job;
  progressEl.replaceChildren();
  cardEl.hidden = true;
  cardEl.replaceChildren();
  setStatus('Starting the worker…', 'running');
  runButton.disabled = true;
  cancelButton.disabled = false;
  const started = performance.now();
  worker = new Worker(new URL('audit-worker.js', document.baseURI), { type: 'module' });
  worker.onmessage = (e: MessageEvent<WorkerMessage>) => {
    const m = e.data;
    if (m.type === 'backend') {
      backendText = m.detail + (m.tried.length > 0 ? ` (skipped: ${m.tried.join('; ')})` : '');
      setStatus(`Running on ${backendText}…`, 'running');
    } else if (m.type === 'progress') {
      onProgress(m.stage, m.done, m.total, m.elapsedMs);
    } else if (m.type === 'error') {
      finish();
      setStatus(m.message, 'error');
    } else if (m.type === 'done') {
      finish();
      setStatus(`Done in ${seconds(performance.now() - started)} on ${backendText}.`, 'done');
      showCard(m.payload, m.state, m.fallen, m.warnings, job);
    }
  };
  worker.onerror = (e) => {
    finish();
    setStatus(`the worker failed: ${e.message}`, 'error');
  };
  worker.postMessage({ type: 'run', job });
}

function cancel(): void {
  if (!worker) return;
  // The worker's attack loop is synchronous tfjs code that would only see a message when it ends;
  // terminating it stops the attack at once and frees its memory.
  finish();
  setStatus('Cancelled.', 'cancelled');
}

// ---------------------------------------------------------------------------------------------------
// The card

const pct = (v: number): string => (100 * v).toFixed(1);

function drawImage(pixels: Uint8Array, shape: readonly [number, number, number]): HTMLCanvasElement {
  const [h, w, c] = shape;
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(w, h);
  for (let p = 0; p < h * w; p++) {
    for (let k = 0; k < 3; k++) img.data[p * 4 + k] = pixels[p * c + (c === 1 ? 0 : k)]!;
    img.data[p * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

function downloadLink(text: string, name: string, label: string): HTMLAnchorElement {
  const a = document.createElement('a');
  a.className = 'download';
  a.href = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  a.download = name;
  a.textContent = label;
  return a;
}

function showCard(payload: Record<string, unknown>, state: Record<string, unknown>, fallen: readonly FallenImage[], warnings: readonly string[], job: AuditJob): void {
  const r = payload as unknown as CardInput & { backend: string; norm: string; forwardPasses: number };
  const h = (tag: string, text: string): HTMLElement => {
    const e = document.createElement(tag);
    e.textContent = text;
    return e;
  };
  cardEl.append(h('h2', `Robustness card: ${job.describe.model}${job.describe.preprocessor ? ` behind ${job.describe.preprocessor}` : ''}`));
  const meta = h('p', `${job.dataset}, n = ${r.n}, ${r.norm} ε = ${+r.eps.toFixed(6)}, seed ${job.seed}, backend ${backendText}, ${r.forwardPasses} images forwarded by the attacks`);
  meta.className = 'meta';
  cardEl.append(meta);
  const table = document.createElement('table');
  table.id = 'accuracy';
  table.innerHTML = '<thead><tr><th></th><th>accuracy %</th><th>correct / n</th><th>95 % interval (Wilson)</th></tr></thead>';
  const body = document.createElement('tbody');
  for (const row of cardRows(r)) {
    const tr = document.createElement('tr');
    for (const cell of [row.label, pct(row.accuracy), `${row.count} / ${r.n}`, `${pct(row.interval[0])} – ${pct(row.interval[1])}`]) tr.append(h('td', cell));
    body.append(tr);
  }
  table.append(body);
  cardEl.append(table);
  const checks = document.createElement('div');
  checks.id = 'checks';
  for (const c of cardChecks(r)) {
    const p = h('p', c.text);
    p.className = `check ${c.status}`;
    checks.append(p);
  }
  for (const w of warnings) {
    const p = h('p', w);
    p.className = 'check warn';
    checks.append(p);
  }
  cardEl.append(checks);
  cardEl.append(h('h3', fallen.length > 0 ? `Images that fell (${fallen.length}${fallen.length >= 48 ? ', first ones' : ''}): adversarial image, true → predicted` : 'No image fell.'));
  const grid = document.createElement('div');
  grid.id = 'fallen';
  for (const f of fallen) {
    const fig = document.createElement('figure');
    fig.append(drawImage(f.adversarial, job.imageShape));
    fig.append(h('figcaption', `#${f.index} ${f.attack}: ${job.classNames[f.label] ?? f.label} → ${job.classNames[f.predicted] ?? f.predicted}`));
    grid.append(fig);
  }
  cardEl.append(grid);
  const links = document.createElement('p');
  links.append(downloadLink(`${JSON.stringify(payload)}\n`, 'audit.json', 'Download the result (jatp eval --json format)'));
  links.append(downloadLink(`${JSON.stringify(state)}\n`, 'audit.json.state.json', 'Download the evaluation state (for jatp eval merge)'));
  cardEl.append(links);
  cardEl.hidden = false;
}

// ---------------------------------------------------------------------------------------------------

form.addEventListener('submit', (e) => {
  e.preventDefault();
  if (worker) return;
  buildJob().then(start, (err: unknown) => setStatus((err as Error).message, 'error'));
});
cancelButton.addEventListener('click', cancel);
for (const zone of document.querySelectorAll<HTMLElement>('.drop')) {
  const input = zone.querySelector('input')!;
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (e.dataTransfer?.files.length) input.files = e.dataTransfer.files;
  });
}
const params = new URLSearchParams(location.search);
for (const [param, field] of [['classifier', 'classifierUrl'], ['preprocessor', 'preprocessorUrl'], ['pixelRange', 'pixelRange'], ['backend', 'backend'], ['eps', 'eps']] as const) {
  const v = params.get(param);
  if (v !== null) (form.elements.namedItem(field) as HTMLInputElement).value = v;
}
void loadSampleIndex().then(() => {
  document.body.dataset['ready'] = 'true';
});
export { lastJob };
