/**
 * SVG charts in the paper's figure forms: grouped bars (Table 1, Fig. 1/2(a), Table 2), L1 bars
 * (Fig. 2(b)), fooling-rate bars (Fig. 4(a)), ablation bars (Fig. 4(b)), all one function: groups on
 * the x axis, one coloured bar per series, an error bar for ± std and a black tick at the paper's
 * value where the paper gives one. Plus a small line chart for training curves.
 */

export interface BarValue {
  readonly mean?: number;
  readonly std?: number;
  readonly paper?: number;
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

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
  p.push(`<line x1="${left + groups.length * groupW + 14}" x2="${left + groups.length * groupW + 25}" y1="${ly - 4}" y2="${ly - 4}" stroke="black" stroke-width="2"/><text x="${left + groups.length * groupW + 30}" y="${ly}">paper</text>`);
  p.push('</svg>');
  return p.join('');
}

/** Line chart of named series over x (training steps); each series scaled to its own range, shown in the legend. */
export function curvesSvg(title: string, xs: readonly number[], series: Readonly<Record<string, readonly number[]>>): string {
  const width = 360;
  const height = 170;
  const left = 8;
  const top = 22;
  const plotW = 220;
  const plotH = 120;
  const xMax = Math.max(1, ...xs);
  const p: string[] = [];
  p.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="10">`);
  p.push(`<rect width="100%" height="100%" fill="white"/><text x="${left}" y="13" font-size="11" font-weight="bold">${escapeXml(title)}</text>`);
  p.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#ccc"/>`);
  p.push(`<text x="${left}" y="${top + plotH + 13}">step 0</text><text x="${left + plotW}" y="${top + plotH + 13}" text-anchor="end">${xMax}</text>`);
  Object.entries(series).forEach(([name, ys], k) => {
    const finite = ys.filter(Number.isFinite);
    if (finite.length === 0) return;
    const lo = Math.min(...finite);
    const hi = Math.max(...finite);
    const span = hi - lo || 1;
    const pts = ys.map((v, i) => (Number.isFinite(v) ? `${(left + (plotW * xs[i]!) / xMax).toFixed(1)},${(top + plotH - (plotH * (v - lo)) / span).toFixed(1)}` : '')).filter(Boolean);
    p.push(`<polyline fill="none" stroke="${PALETTE[k % PALETTE.length]}" stroke-width="1.5" points="${pts.join(' ')}"/>`);
    p.push(`<text x="${left + plotW + 8}" y="${top + 10 + k * 14}" fill="${PALETTE[k % PALETTE.length]}">${escapeXml(`${name} ${lo.toPrecision(3)}–${hi.toPrecision(3)}`)}</text>`);
  });
  p.push('</svg>');
  return p.join('');
}
