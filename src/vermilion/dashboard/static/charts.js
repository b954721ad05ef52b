"use strict";
// A small line chart on a canvas: time on x (the last `span` ms), values autoscaled
// from zero. The canvas carries data-points / data-last so tests and tools can
// read what it shows.
class LineChart {
  constructor(canvas, options) {
    this.canvas = canvas;
    this.color = (options && options.color) || "#c0392b";
    this.format = (options && options.format) || (v => String(v));
    this.span = (options && options.span) || 5 * 60 * 1000;
    this.points = [];
  }
  push(t, value) {
    if (value === null || value === undefined || Number.isNaN(value)) return;
    this.points.push([t, value]);
    const oldest = t - this.span;
    while (this.points.length && this.points[0][0] < oldest) this.points.shift();
    this.canvas.dataset.points = String(this.points.length);
    this.canvas.dataset.last = String(value);
    this.draw();
  }
  draw() {
    const c = this.canvas, ratio = window.devicePixelRatio || 1;
    const w = c.clientWidth || 300, h = c.clientHeight || 90;
    if (c.width !== Math.round(w * ratio)) { c.width = Math.round(w * ratio); c.height = Math.round(h * ratio); }
    const g = c.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, h);
    const pts = this.points;
    let max = 0;
    for (const p of pts) max = Math.max(max, p[1]);
    max = max > 0 ? max * 1.15 : 1;
    const right = pts.length ? pts[pts.length - 1][0] : Date.now(), left = right - this.span;
    const x = t => ((t - left) / this.span) * (w - 2) + 1;
    const y = v => h - 14 - (v / max) * (h - 22);
    g.strokeStyle = "#e5e7eb"; g.lineWidth = 1;
    g.beginPath(); g.moveTo(0, y(0) + 0.5); g.lineTo(w, y(0) + 0.5); g.stroke();
    g.fillStyle = "#6b7280"; g.font = "10px system-ui, sans-serif";
    g.fillText(this.format(max / 1.15), 2, 10);
    g.fillText("-" + Math.round(this.span / 60000) + " min", 2, h - 2);
    if (pts.length < 2) return;
    g.beginPath();
    pts.forEach((p, i) => (i ? g.lineTo(x(p[0]), y(p[1])) : g.moveTo(x(p[0]), y(p[1]))));
    g.strokeStyle = this.color; g.lineWidth = 1.6; g.stroke();
    g.lineTo(x(pts[pts.length - 1][0]), y(0)); g.lineTo(x(pts[0][0]), y(0)); g.closePath();
    g.fillStyle = this.color + "22"; g.fill();
  }
}
window.LineChart = LineChart;
