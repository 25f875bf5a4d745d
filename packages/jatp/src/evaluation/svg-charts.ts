/**
 * The one SVG chart writer of the package (self-contained SVG, no scripts, no network). Two forms:
 * - `groupedBarsSvg`: groups on the x axis, one coloured bar per series, an error bar for ± std and
 *   a black tick at the paper's value where the paper gives one — the paper's figure forms (Table 1,
 *   Fig. 1/2(a), Table 2, L1 bars of Fig. 2(b), fooling rates of Fig. 4(a), ablations of Fig. 4(b))
 *   and `jatp report`'s comparison chart;
 * - `lineChartSvg`: series over x — robust accuracy along the ε sweep of the sanity card, and
 *   training curves.
 */

/** One bar: its height (mean), ± std as an error bar, and the paper's value as a tick. */
export interface BarValue {
  readonly mean?: number;
  readonly std?: number;
  readonly paper?: number;
}

/** Text made safe for SVG / HTML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Series colours, in order. */
export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

/** Grouped bar chart; `unit: '%'` gives a 0–100 % axis, any other unit an axis up to the largest value (or `yMax`). */
export function groupedBarsSvg(opts: {
  title: string;
  groups: readonly string[];
  series: readonly string[];
  value: (group: string, series: string) => BarValue | undefined;
  unit: string;
  /** Top of the y axis; default: 100 for percentages, else the largest value rounded up. */
  yMax?: number;
}): string {
  const { groups, series } = opts;
  const all = groups.flatMap((g) => series.map((s) => opts.value(g, s))).flatMap((v) => (v ? [(v.mean ?? 0) + (v.std ?? 0), v.paper ?? 0] : []));
  const yMax = opts.yMax ?? (opts.unit === '%' ? 100 : Math.max(1, Math.ceil(Math.max(0, ...all) / 5) * 5));
  const barW = Math.max(6, Math.min(18, Math.floor(220 / Math.max(1, series.length))));
  const groupW = series.length * barW + 22;
  const left = 52;
  const top = 34;
  const plotH = 200;
  const legendW = 170;
  // Wide enough for the title (about 7.5 px per character at 13 px bold).
  const width = Math.max(left + groups.length * groupW + legendW, left + Math.ceil(opts.title.length * 7.5));
  const height = top + plotH + 70;
  const y = (v: number) => top + plotH - (plotH * Math.min(v, yMax)) / yMax;
  const p: string[] = [];
  p.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11" role="img">`);
  p.push(`<title>${escapeXml(opts.title)}</title><rect width="100%" height="100%" fill="white"/>`);
  p.push(`<text x="${left}" y="18" font-size="13" font-weight="bold">${escapeXml(opts.title)}</text>`);
  for (let k = 0; k <= 5; k++) {
    const v = (yMax * k) / 5;
    p.push(`<line x1="${left}" x2="${left + groups.length * groupW}" y1="${y(v)}" y2="${y(v)}" stroke="#e4e4e4"/>`);
    p.push(`<text x="${left - 5}" y="${y(v) + 4}" text-anchor="end">${Number.isInteger(v) ? v : v.toFixed(1)}${opts.unit === '%' ? '%' : ''}</text>`);
  }
  groups.forEach((g, gi) => {
    const gx = left + gi * groupW + 11;
    series.forEach((s, si) => {
      const v = opts.value(g, s);
      if (!v) return;
      const x = gx + si * barW;
      if (v.mean !== undefined) {
        p.push(`<rect x="${x}" y="${y(v.mean)}" width="${barW - 2}" height="${top + plotH - y(v.mean)}" fill="${PALETTE[si % PALETTE.length]}"><title>${escapeXml(`${s} / ${g}: ${v.mean.toFixed(2)}${v.std !== undefined ? ` ± ${v.std.toFixed(2)}` : ''}${v.paper !== undefined ? ` (paper ${v.paper})` : ''}`)}</title></rect>`);
        if (v.std !== undefined && v.std > 0) {
          const cx = x + (barW - 2) / 2;
          p.push(`<line x1="${cx}" x2="${cx}" y1="${y(v.mean + v.std)}" y2="${y(Math.max(0, v.mean - v.std))}" stroke="#333"/>`);
        }
      }
      if (v.paper !== undefined) p.push(`<line x1="${x - 1}" x2="${x + barW - 1}" y1="${y(v.paper)}" y2="${y(v.paper)}" stroke="black" stroke-width="2"><title>${escapeXml(`paper: ${v.paper}`)}</title></line>`);
    });
    const label = escapeXml(g);
    p.push(`<text x="${gx + (series.length * barW) / 2}" y="${top + plotH + 14}" text-anchor="end" transform="rotate(-30 ${gx + (series.length * barW) / 2} ${top + plotH + 14})">${label}</text>`);
  });
  series.forEach((s, si) => {
    const lx = left + groups.length * groupW + 14;
    const ly = top + 8 + si * 17;
    p.push(`<rect x="${lx}" y="${ly - 9}" width="11" height="11" fill="${PALETTE[si % PALETTE.length]}"/><text x="${lx + 16}" y="${ly}">${escapeXml(s)}</text>`);
  });
  const ly = top + 8 + series.length * 17 + 6;
  const anyPaper = groups.some((g) => series.some((s) => opts.value(g, s)?.paper !== undefined));
  if (anyPaper) p.push(`<line x1="${left + groups.length * groupW + 14}" x2="${left + groups.length * groupW + 25}" y1="${ly - 4}" y2="${ly - 4}" stroke="black" stroke-width="2"/><text x="${left + groups.length * groupW + 30}" y="${ly}">paper</text>`);
  p.push('</svg>');
  return p.join('');
}

/** One line of `lineChartSvg`: its legend label and its points. */
export interface LineSeries {
  readonly label: string;
  readonly xs: readonly number[];
  readonly ys: readonly number[];
}

/**
 * Line chart of series over x. `y: 'percent'`: one shared 0–100 % axis with grid lines, markers on
 * the points and the legend beside the plot (accuracy vs ε); `y: 'own-range'`: each series scaled to
 * its own range, which the legend states (training curves of quantities with different units).
 */
export function lineChartSvg(opts: { title: string; series: readonly LineSeries[]; y: 'percent' | 'own-range'; xLabel: string }): string {
  const { title, series } = opts;
  const percent = opts.y === 'percent';
  const width = percent ? 560 : 360;
  const height = percent ? 320 : 170;
  const left = percent ? 50 : 8;
  const top = percent ? 30 : 22;
  const plotW = percent ? width - left - 150 : 220;
  const plotH = percent ? height - top - 40 : 120;
  const xMax = percent ? Math.max(1e-9, ...series.flatMap((s) => s.xs)) : Math.max(1, ...series.flatMap((s) => s.xs));
  const px = (x: number): number => left + (plotW * x) / xMax;
  const p: string[] = [];
  p.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="${percent ? 11 : 10}" role="img">`);
  p.push(`<title>${escapeXml(title)}</title><rect width="100%" height="100%" fill="white"/>`);
  p.push(`<text x="${left}" y="${percent ? 18 : 13}" font-size="${percent ? 13 : 11}" font-weight="bold">${escapeXml(title)}</text>`);
  if (percent) {
    const py = (a: number): number => top + plotH * (1 - a);
    for (const a of [0, 0.25, 0.5, 0.75, 1]) {
      p.push(`<line x1="${left}" x2="${left + plotW}" y1="${py(a)}" y2="${py(a)}" stroke="#e4e4e4"/><text x="${left - 5}" y="${py(a) + 4}" text-anchor="end">${a * 100}%</text>`);
    }
    p.push(`<line x1="${left}" y1="${py(0)}" x2="${left + plotW}" y2="${py(0)}" stroke="#000"/><line x1="${left}" y1="${py(0)}" x2="${left}" y2="${py(1)}" stroke="#000"/>`);
    for (const x of [0, xMax / 4, xMax / 2, (3 * xMax) / 4, xMax]) p.push(`<text x="${px(x)}" y="${top + plotH + 15}" text-anchor="middle">${x.toFixed(3)}</text>`);
    p.push(`<text x="${left + plotW / 2}" y="${height - 8}" text-anchor="middle">${escapeXml(opts.xLabel)}</text>`);
  } else {
    p.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#ccc"/>`);
    p.push(`<text x="${left}" y="${top + plotH + 13}">${escapeXml(opts.xLabel)} 0</text><text x="${left + plotW}" y="${top + plotH + 13}" text-anchor="end">${xMax}</text>`);
  }
  series.forEach((s, k) => {
    const color = PALETTE[k % PALETTE.length]!;
    const finite = s.ys.filter(Number.isFinite);
    if (finite.length === 0) return;
    const lo = percent ? 0 : Math.min(...finite);
    const hi = percent ? 1 : Math.max(...finite);
    const span = hi - lo || 1;
    const py = (v: number): number => top + plotH - (plotH * (v - lo)) / span;
    const pts = s.ys.flatMap((v, i) => (Number.isFinite(v) ? [`${px(s.xs[i]!).toFixed(1)},${py(v).toFixed(1)}`] : []));
    p.push(`<polyline fill="none" stroke="${color}" stroke-width="${percent ? 2 : 1.5}" points="${pts.join(' ')}"/>`);
    if (percent) {
      for (const pt of pts) p.push(`<circle cx="${pt.split(',')[0]}" cy="${pt.split(',')[1]}" r="3" fill="${color}"/>`);
      p.push(`<rect x="${left + plotW + 10}" y="${top + 16 * k}" width="10" height="10" fill="${color}"/><text x="${left + plotW + 25}" y="${top + 16 * k + 9}">${escapeXml(s.label)}</text>`);
    } else {
      p.push(`<text x="${left + plotW + 8}" y="${top + 10 + k * 14}" fill="${color}">${escapeXml(`${s.label} ${lo.toPrecision(3)}–${hi.toPrecision(3)}`)}</text>`);
    }
  });
  p.push('</svg>');
  return p.join('');
}
