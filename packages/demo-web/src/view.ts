/** DOM building blocks of the results: an image card with its top-3 probabilities, and a stats table. */
import type * as tf from '@tensorflow/tfjs';
import type { Prediction } from './attack.js';
import { drawImage } from './images.js';

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

export const pct = (p: number): string => `${(100 * p).toFixed(1)}%`;

function bars(pred: Prediction, classNames: readonly string[]): HTMLElement {
  const box = el('div', { class: 'bars' });
  const order = pred.probabilities.map((p, i) => [p, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 3);
  for (const [p, i] of order) {
    const row = el('div', { class: i === pred.label ? 'bar top' : 'bar' });
    row.append(el('span', {}, classNames[i] ?? String(i)));
    const track = el('span');
    const fill = el('i');
    fill.style.width = `${Math.max(1, 100 * p).toFixed(1)}%`;
    track.append(fill);
    row.append(track, el('span', {}, pct(p)));
    box.append(row);
  }
  return box;
}

/**
 * One image with the prediction made on it. `label` colours the prediction (green when it is the
 * attack's label); `testId` lets the browser tests find the card.
 */
export async function imageCard(
  name: string,
  image: tf.Tensor4D,
  pred: Prediction | undefined,
  label: number,
  classNames: readonly string[],
  testId: string,
): Promise<HTMLElement> {
  const card = el('figure', { class: 'card', 'data-testid': testId });
  const canvas = el('canvas');
  await drawImage(canvas, image);
  card.append(canvas, el('div', { class: 'name' }, name));
  if (pred) {
    const p = el('div', { class: `pred ${pred.label === label ? 'ok' : 'bad'}`, 'data-label': String(pred.label) });
    p.textContent = `${classNames[pred.label] ?? pred.label} (${pct(pred.probability)})`;
    card.append(p, bars(pred, classNames));
  }
  card.style.margin = '0';
  return card;
}

export function statsTable(rows: ReadonlyArray<readonly [string, string]>): HTMLTableElement {
  const table = el('table', { class: 'stats' });
  for (const [k, v] of rows) {
    const tr = el('tr');
    tr.append(el('th', {}, k), el('td', { class: 'num' }, v));
    table.append(tr);
  }
  return table;
}
