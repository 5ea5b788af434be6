/**
 * Charts as inline SVG, drawn on the server: readable without JavaScript, and within the CSP
 * (no `style` attribute: SVG presentation attributes and the stylesheet's classes only).
 *
 * Accessibility: each chart is an image (`role="img"`) named by its `<title>` and described by a
 * `<desc>` that says the figures in words; every value is written beside its bar, series differ
 * by line pattern as well as colour and are named in a text legend, and a table of the same
 * figures follows each chart. Colours keep at least 4.5:1 against the white page.
 */
import type { Child } from 'hono/jsx';

const INK = '#1a1a1a';
const MUTED = '#4a4a4a';
const GRID = '#767676';
const BAR = '#1f4fd1';
/** Series of a line chart: colour and dash pattern, both (never colour alone). */
const SERIES = [
  { stroke: '#0a6b2f', dash: undefined, width: 2.5 },
  { stroke: '#8a1111', dash: '6 4', width: 2.5 },
] as const;

/** The number formats of the charts and their tables, in the page's language (days to a tenth). */
export function chartNumbers(lang: string) {
  const n = new Intl.NumberFormat(lang);
  const d = new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const pct = new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 1 });
  return { n: (v: number) => n.format(v), days: (v: number | null) => (v === null ? '—' : d.format(v)), pct: (v: number) => pct.format(v) };
}

export interface Bar {
  label: string;
  value: number;
}

/**
 * Horizontal bars, each labelled with its name and its value. `table` (the figures in a table)
 * follows the chart, in a `<details>` unless `open` (a printed report shows it).
 */
export function BarChart(props: { id: string; title: string; desc: string; bars: Bar[]; format: (n: number) => string; table: Child; tableLabel: string; open?: boolean }) {
  const { id, bars } = props;
  // Labels are right-aligned against the bars, in a column as wide as the longest (SVG text
  // does not wrap; about 7 units a character at this size).
  const labelW = Math.min(440, Math.max(120, 12 + 7 * Math.max(0, ...bars.map((b) => b.label.length))));
  const valueW = 70;
  const W = labelW + 300 + valueW;
  const rowH = 26;
  const H = bars.length * rowH + 8;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const span = W - labelW - valueW;
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <svg role="img" aria-labelledby={`${id}-title`} aria-describedby={`${id}-desc`} viewBox={`0 0 ${W} ${H}`} width={W} height={H} font-size="13" font-family="system-ui, sans-serif">
        <title id={`${id}-title`}>{props.title}</title>
        <desc id={`${id}-desc`}>{props.desc}</desc>
        {bars.map((b, i) => {
          const y = 4 + i * rowH;
          const w = Math.round((b.value / max) * span);
          return (
            <g>
              <text x={labelW - 8} y={y + rowH / 2 + 4} text-anchor="end" fill={INK}>
                {b.label}
              </text>
              <rect x={labelW} y={y + 4} width={Math.max(w, b.value > 0 ? 2 : 0)} height={rowH - 8} fill={BAR} />
              <text x={labelW + w + 6} y={y + rowH / 2 + 4} fill={INK}>
                {props.format(b.value)}
              </text>
            </g>
          );
        })}
        <line x1={labelW} y1={2} x2={labelW} y2={H - 2} stroke={GRID} stroke-width="1" />
      </svg>
      <TableAlternative label={props.tableLabel} open={props.open}>
        {props.table}
      </TableAlternative>
    </figure>
  );
}

export interface Series {
  name: string;
  values: number[];
}

/**
 * Values per day as lines (one per series), the first and last day and the mid-range marked on
 * the x axis, zero and the maximum on the y axis, a legend naming each line by its pattern.
 */
export function LineChart(props: { id: string; title: string; desc: string; days: string[]; series: Series[]; format: (n: number) => string; table: Child; tableLabel: string; open?: boolean }) {
  const { id, days, series } = props;
  const W = 640;
  const H = 240;
  const left = 44;
  const right = 12;
  const top = 34;
  const bottom = 30;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const x = (i: number) => left + (days.length <= 1 ? 0 : (i / (days.length - 1)) * plotW);
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const ticks = days.length > 2 ? [0, Math.floor((days.length - 1) / 2), days.length - 1] : days.map((_, i) => i);
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <svg role="img" aria-labelledby={`${id}-title`} aria-describedby={`${id}-desc`} viewBox={`0 0 ${W} ${H}`} width={W} height={H} font-size="12" font-family="system-ui, sans-serif">
        <title id={`${id}-title`}>{props.title}</title>
        <desc id={`${id}-desc`}>{props.desc}</desc>
        {series.map((s, k) => {
          const st = SERIES[k % SERIES.length]!;
          const lx = left + k * 180;
          return (
            <g>
              <line x1={lx} y1={14} x2={lx + 32} y2={14} stroke={st.stroke} stroke-width={st.width} stroke-dasharray={st.dash} />
              <text x={lx + 40} y={18} fill={INK}>
                {s.name}
              </text>
            </g>
          );
        })}
        <line x1={left} y1={top} x2={left} y2={top + plotH} stroke={GRID} stroke-width="1" />
        <line x1={left} y1={top + plotH} x2={left + plotW} y2={top + plotH} stroke={GRID} stroke-width="1" />
        <text x={left - 6} y={top + plotH + 4} text-anchor="end" fill={MUTED}>
          {props.format(0)}
        </text>
        <text x={left - 6} y={top + 4} text-anchor="end" fill={MUTED}>
          {props.format(max)}
        </text>
        <line x1={left} y1={top} x2={left + plotW} y2={top} stroke={GRID} stroke-width="0.5" stroke-dasharray="2 3" />
        {ticks.map((i) => (
          <text x={x(i)} y={H - 10} text-anchor={i === 0 ? 'start' : i === days.length - 1 ? 'end' : 'middle'} fill={MUTED}>
            {days[i]}
          </text>
        ))}
        {series.map((s, k) => {
          const st = SERIES[k % SERIES.length]!;
          return (
            <polyline
              points={s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}
              fill="none"
              stroke={st.stroke}
              stroke-width={st.width}
              stroke-dasharray={st.dash}
              stroke-linejoin="round"
            />
          );
        })}
      </svg>
      <TableAlternative label={props.tableLabel} open={props.open}>
        {props.table}
      </TableAlternative>
    </figure>
  );
}

function TableAlternative(props: { label: string; open?: boolean; children?: Child }) {
  if (props.open) return <div class="table-wrap">{props.children}</div>;
  return (
    <details>
      <summary>{props.label}</summary>
      <div class="table-wrap">{props.children}</div>
    </details>
  );
}
