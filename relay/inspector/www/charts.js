// Small line charts drawn on <canvas>: one line per node over the last samples, the
// y axis from zero to the largest value shown, the latest values in the title.

export const COLORS = ['#2f6fdb', '#d9480f', '#2b8a3e', '#862e9c', '#c92a2a', '#0b7285', '#e67700', '#5c940d'];

export class LineChart {
  // title: shown above; unit: appended to values; pick(nodeSample) -> number|null
  constructor(container, title, unit, pick) {
    this.pick = pick;
    this.unit = unit;
    const box = document.createElement('div');
    box.className = 'chart';
    const head = document.createElement('div');
    head.className = 'title';
    const name = document.createElement('span');
    name.textContent = title;
    this.now = document.createElement('span');
    head.append(name, this.now);
    this.canvas = document.createElement('canvas');
    box.append(head, this.canvas);
    container.append(box);
  }

  // samples: oldest first, each {t, nodes:[{node,...}]}; colorOf(node) -> css color
  draw(samples, nodes, colorOf) {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth || 260, h = c.clientHeight || 90;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const series = nodes.map((node) => samples.map((s) => {
      const n = s.nodes.find((x) => x.node === node);
      const v = n ? this.pick(n) : null;
      return v === null || v === undefined ? null : Number(v);
    }));
    let max = 0;
    for (const line of series) for (const v of line) if (v !== null && v > max) max = v;
    const top = niceCeiling(max);
    const left = 36, bottom = h - 4, plotH = h - 16, plotW = w - left - 4;
    g.strokeStyle = '#e3e6ea';
    g.fillStyle = '#889';
    g.font = '10px system-ui, sans-serif';
    g.textAlign = 'right';
    for (const frac of [0, 0.5, 1]) {
      const y = bottom - frac * plotH;
      g.beginPath(); g.moveTo(left, y); g.lineTo(w - 4, y); g.stroke();
      g.fillText(short(top * frac), left - 4, y + 3);
    }
    const capacity = Math.max(samples.length, 60);
    const step = plotW / Math.max(capacity - 1, 1);
    const x0 = left + (capacity - samples.length) * step;
    series.forEach((line, i) => {
      g.strokeStyle = colorOf(nodes[i]);
      g.lineWidth = 1.5;
      g.beginPath();
      let pen = false;
      line.forEach((v, j) => {
        if (v === null) { pen = false; return; }
        const x = x0 + j * step, y = bottom - (top ? v / top : 0) * plotH;
        if (pen) g.lineTo(x, y); else g.moveTo(x, y);
        pen = true;
      });
      g.stroke();
    });
    const latest = series.map((line) => line.length ? line[line.length - 1] : null);
    this.now.textContent = latest.map((v) => v === null ? '-' : short(v) + this.unit).join(' / ');
  }
}

function niceCeiling(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function short(v) {
  if (v === null || v === undefined) return '-';
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(1) + 'G';
  if (a >= 1e6) return (v / 1e6).toFixed(1) + 'M';
  if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k';
  if (Number.isInteger(v)) return String(v);
  return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(1) : v.toFixed(2);
}
