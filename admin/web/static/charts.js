// Charts with the vendored Apache ECharts (loaded on first use, from this origin only).
import { h } from './dom.js';
import { axisValue, paretoSteps, wantsLogAxis } from './analysis.js';

const ECHARTS_SRC = '/web/static/vendor/echarts/echarts.min.js';
let loading = null;

export function loadECharts() {
  if (window.echarts) return Promise.resolve(window.echarts);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = h('script', { src: ECHARTS_SRC });
      script.onload = () => resolve(window.echarts);
      script.onerror = () => { loading = null; reject(new Error('the chart library could not be loaded')); };
      document.head.append(script);
    });
  }
  return loading;
}

const live = new Set();
window.addEventListener('resize', () => live.forEach((c) => c.resize()));

/**
 * A chart in a new element, described for screen readers by `label`:
 *   const c = makeChart('Best score so far', 'small'); parent.append(c.el); await c.set(option);
 */
export function makeChart(label, size = '') {
  const el = h('div', { class: `chart ${size}`.trim(), role: 'img', 'aria-label': label });
  let instance = null;
  const handlers = [];
  return {
    el,
    async set(option) {
      const echarts = await loadECharts();
      if (!instance) {
        instance = echarts.init(el, null, { renderer: 'canvas' });
        live.add(instance);
        handlers.forEach(([name, handler]) => instance.on(name, handler));
      }
      instance.setOption({ aria: { enabled: true, label: { description: label } }, animation: false, ...option },
        { notMerge: true });
    },
    resize() { if (instance) instance.resize(); },
    /** An ECharts event handler, e.g. on('click', (p) => ...), kept across set(). */
    on(name, handler) {
      handlers.push([name, handler]);
      if (instance) instance.on(name, handler);
    },
  };
}

const GRID = { left: 56, right: 24, top: 48, bottom: 48, containLabel: true };
// Labels of a log axis: 1e-6 rather than 0.000001.
const LOG_LABELS = { formatter: (v) => (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5) ? v.toExponential(0) : String(v)) };
// Only on a log axis: an axis given `axisLabel: undefined` draws no labels at all.
const logLabels = (log) => (log ? { axisLabel: LOG_LABELS } : {});
const TOOLTIP = { trigger: 'item', confine: true };

function title(text) { return { text, left: 'center', textStyle: { fontSize: 14 } }; }

/** Step lines of the best score so far, with each trial's own score as faint points. */
export function bestSoFarOption(heading, xName, lines, scores) {
  // The overall line is dark, dashed and on top: it coincides with the leading template's line.
  const overall = { z: 3, lineStyle: { width: 2.5, type: 'dashed', color: '#1d2329' }, itemStyle: { color: '#1d2329' } };
  const series = lines.map((line) => ({ name: line.name, type: 'line', step: 'end', showSymbol: false,
    data: line.points, lineStyle: { width: 2 }, ...(line.name === 'All templates' ? overall : {}) }));
  if (scores) {
    series.push({ name: 'Trial score', type: 'scatter', symbolSize: 6, itemStyle: { opacity: 0.35 },
      data: scores.map(([x, y, model]) => ({ value: [x, y], model })),
      tooltip: { formatter: (p) => `${p.data.model}: ${Number(p.value[1]).toFixed(4)} (trial ${p.value[0]})` } });
  }
  return {
    title: title(heading), grid: GRID, tooltip: { trigger: 'axis' },
    legend: { bottom: 0, type: 'scroll' },
    xAxis: { type: 'value', name: xName, nameLocation: 'middle', nameGap: 28, minInterval: xName.startsWith('Trials') ? 1 : 0 },
    yAxis: { type: 'value', name: 'Score', scale: true },
    series,
  };
}

/** One knob against the score (each point a completed trial). */
export function knobScatterOption(dim, trials) {
  const points = trials
    .filter((t) => t.status === 'COMPLETED' && t.score !== null && axisValue(dim, t.knobs[dim.name]) !== null)
    .map((t) => ({ value: [axisValue(dim, t.knobs[dim.name]), t.score], no: t.no }));
  const xAxis = dim.kind === 'category'
    ? { type: 'category', data: dim.categories, name: dim.name }
    : { type: dim.kind === 'log' ? 'log' : 'value', name: dim.name, scale: true,
      ...logLabels(dim.kind === 'log') };
  return {
    title: title(`Score against ${dim.name}`), grid: { ...GRID, top: 40 },
    tooltip: { ...TOOLTIP, formatter: (p) => `trial ${p.data.no}: ${dim.name} = ${p.value[0]}, score ${Number(p.value[1]).toFixed(4)}` },
    xAxis: { ...xAxis, nameLocation: 'middle', nameGap: 28 },
    yAxis: { type: 'value', name: 'Score', scale: true },
    series: [{ type: 'scatter', symbolSize: 8, data: points }],
  };
}

/** Parallel coordinates: one axis per knob and one for the score, lines coloured by score. */
export function parallelOption(heading, dims, trials) {
  const done = trials.filter((t) => t.status === 'COMPLETED' && t.score !== null);
  const axes = dims.map((d, i) => (d.kind === 'category'
    ? { dim: i, name: d.name, type: 'category', data: d.categories }
    : { dim: i, name: d.name, type: d.kind === 'log' ? 'log' : 'value', scale: true,
      ...logLabels(d.kind === 'log') }));
  axes.push({ dim: dims.length, name: 'score', type: 'value', scale: true });
  const scores = done.map((t) => t.score);
  return {
    title: title(heading),
    parallel: { left: 64, right: 64, top: 64, bottom: 72 },
    parallelAxis: axes,
    visualMap: { type: 'continuous', dimension: dims.length, min: Math.min(...scores), max: Math.max(...scores),
      orient: 'horizontal', left: 'center', bottom: 4, itemHeight: 160, calculable: true,
      text: ['high score', 'low score'], precision: 3,
      inRange: { color: ['#d94e5d', '#eac736', '#50a3ba'].reverse() } },
    series: [{ type: 'parallel', lineStyle: { width: 1.5, opacity: 0.7 },
      data: done.map((t) => [...dims.map((d) => axisValue(d, t.knobs[d.name])), t.score]) }],
  };
}

/** Horizontal bars of each knob's share of the score's variance. */
export function importanceOption(heading, importances) {
  const entries = Object.entries(importances).reverse();   // largest on top
  return {
    title: title(heading), grid: { ...GRID, left: 24 },
    tooltip: { ...TOOLTIP, formatter: (p) => `${p.name}: ${(p.value * 100).toFixed(1)} %` },
    xAxis: { type: 'value', max: 1, name: 'Share of variance', nameLocation: 'middle', nameGap: 28 },
    yAxis: { type: 'category', data: entries.map(([k]) => k) },
    series: [{ type: 'bar', data: entries.map(([, v]) => v), label: { show: true, position: 'right',
      formatter: (p) => `${(p.value * 100).toFixed(1)} %` } }],
  };
}

/** Box plots of the scores of each template, with the scores themselves as points. */
export function comparisonOption(models) {
  const names = models.map((m) => m.name);
  return {
    title: title('Scores of each template'), grid: GRID, tooltip: TOOLTIP,
    xAxis: { type: 'category', data: names },
    yAxis: { type: 'value', name: 'Score', scale: true },
    series: [
      { name: 'Quartiles', type: 'boxplot', data: models.map((m) => m.quartiles || [null, null, null, null, null]) },
      { name: 'Trial score', type: 'scatter', symbolSize: 6, itemStyle: { opacity: 0.5 },
        data: models.flatMap((m) => m.scores.map((s) => [m.name, s])) },
    ],
  };
}

/** Lines of named series of [x, y] points; `xType` 'value' or 'time'. */
export function linesOption(heading, xName, xType, series, yName = '') {
  return {
    title: title(heading), grid: GRID, tooltip: { trigger: 'axis' }, legend: { bottom: 0, type: 'scroll' },
    xAxis: { type: xType, name: xName, nameLocation: 'middle', nameGap: 28, scale: true },
    yAxis: { type: 'value', name: yName, scale: true },
    series: series.map((s) => ({ name: s.name, type: 'line', showSymbol: s.points.length < 40, data: s.points })),
  };
}

/** Bars of named counts (e.g. the classes of a dataset). */
export function barsOption(heading, counts) {
  const entries = Object.entries(counts);
  return {
    title: title(heading), grid: GRID, tooltip: TOOLTIP,
    xAxis: { type: 'category', data: entries.map(([k]) => k), axisLabel: { interval: 0, rotate: entries.length > 8 ? 45 : 0 } },
    yAxis: { type: 'value', minInterval: 1 },
    series: [{ type: 'bar', data: entries.map(([, v]) => v) }],
  };
}

const FRONT_COLOUR = '#c2410c';
const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Trials on two figures: the Pareto front bright and joined by its staircase, the other trials
 * dimmed (hollow when outside the constraints), the deployed ones ringed, the constraints' bounds
 * as dashed lines. `points`: {front, dominated, infeasible, deployed}, each [{value: [x, y], id,
 * tip}] (tip: plain text lines); `x`, `y`: {name, direction}; `bounds`: {x: [[value, label]], y: [...]}.
 */
export function paretoOption(x, y, points, bounds) {
  const all = [...points.front, ...points.dominated, ...points.infeasible];
  const axis = (a, i, lines) => {
    const values = all.map((p) => p.value[i]);
    const log = wantsLogAxis(values);
    const edges = lines.map(([v]) => v).filter((v) => !log || v > 0);
    // Wide enough for the constraints' bounds (null: as the data asks).
    const low = Math.min(...edges);
    const high = Math.max(...edges);
    return { type: log ? 'log' : 'value', scale: true, nameLocation: 'middle', nameGap: i ? 48 : 28,
      name: `${a.name} (${a.direction === 'minimize' ? 'lower' : 'higher'} is better)`, ...logLabels(log),
      min: (e) => (e.min <= low ? null : low), max: (e) => (e.max >= high ? null : high) };
  };
  const marks = [...bounds.x.map(([v, label]) => ({ xAxis: v, name: label })),
    ...bounds.y.map(([v, label]) => ({ yAxis: v, name: label }))];
  const scatter = (name, data, style) => ({ name, type: 'scatter', data, ...style });
  return {
    title: title(`Pareto front: ${y.name} against ${x.name}`), grid: { ...GRID, bottom: 64 },
    legend: { bottom: 0 },
    tooltip: { ...TOOLTIP, formatter: (p) => (p.data && p.data.tip ? p.data.tip.map(escapeHtml).join('<br>') : '') },
    xAxis: axis(x, 0, bounds.x), yAxis: axis(y, 1, bounds.y),
    series: [
      scatter('Dominated', points.dominated, { symbolSize: 8, itemStyle: { color: '#8c969f', opacity: 0.45 } }),
      scatter('Outside the constraints', points.infeasible, { symbol: 'emptyCircle', symbolSize: 8,
        itemStyle: { color: '#8c969f', opacity: 0.45 } }),
      { name: 'Pareto front', type: 'line', z: 2, showSymbol: false, silent: true,
        data: paretoSteps(points.front.map((p) => p.value), x.direction, y.direction),
        lineStyle: { width: 2, color: FRONT_COLOUR }, itemStyle: { color: FRONT_COLOUR } },
      scatter('Pareto front', points.front, { symbolSize: 12, itemStyle: { color: FRONT_COLOUR }, z: 3 }),
      scatter('Deployed', points.deployed, { symbol: 'circle', symbolSize: 22, z: 4,
        itemStyle: { color: 'rgba(0,0,0,0)', borderColor: '#1d4ed8', borderWidth: 2.5 },
        label: { show: true, position: 'top', formatter: 'deployed', color: '#1d4ed8' } }),
      { name: 'Constraint bounds', type: 'line', data: [], silent: true, itemStyle: { color: '#6b21a8' },
        markLine: { symbol: 'none', silent: true, lineStyle: { type: 'dashed', color: '#6b21a8' },
          label: { formatter: (p) => p.name }, data: marks } },
    ],
  };
}
