/**
 * The embedding projector: up to 10,000 test images as points (three.js, WebGL), coloured by class,
 * in 2-D (orthographic, pan/zoom) or 3-D (orbit); hovering a point shows its thumbnail from the
 * sprite. Method, dimensions and source (pixels or learned features) are the server's projection
 * parameters; TensorBoard's projector files download from the same query.
 */
import * as THREE from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import { api, type Projection, type RunSummary } from '../api.js';
import { CLASS_COLOURS, errorBox, h, pct } from '../dom.js';

const THUMB = 28;

function select(name: string, options: string[], value: string): HTMLLabelElement {
  return h('label', {}, name, h('select', { name }, ...options.map((o) => {
    const opt = h('option', { value: o }, o);
    if (o === value) opt.selected = true;
    return opt;
  })));
}

class Scatter {
  readonly renderer: THREE.WebGLRenderer;
  private readonly scene = new THREE.Scene();
  private camera: THREE.Camera;
  private controls: OrbitControls;
  private points: THREE.Points | null = null;
  private readonly raycaster = new THREE.Raycaster();
  private frame = 0;

  constructor(host: HTMLElement, private readonly p: Projection, private readonly onHover: (index: number | null, x: number, y: number) => void) {
    const width = Math.min(900, host.clientWidth || 900);
    const height = 600;
    this.renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
    this.renderer.setSize(width, height);
    this.renderer.setClearColor(0xffffff);
    host.append(this.renderer.domElement);
    const [lo, hi] = this.bounds();
    const centre = lo.map((v, d) => (v + hi[d]) / 2);
    const radius = Math.max(...hi.map((v, d) => v - lo[d])) / 2 || 1;
    const positions = new Float32Array(p.coords.length * 3);
    const colours = new Float32Array(p.coords.length * 3);
    p.coords.forEach((c, i) => {
      for (let d = 0; d < 3; d++) positions[i * 3 + d] = d < p.dims ? (c[d] - centre[d]) / radius : 0;
      const col = new THREE.Color(CLASS_COLOURS[p.labels[i] % 10]);
      colours.set([col.r, col.g, col.b], i * 3);
    });
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute('position', new THREE.BufferAttribute(positions, 3));
    geometry.setAttribute('color', new THREE.BufferAttribute(colours, 3));
    const size = p.dims === 3 ? 0.02 : 5;
    this.points = new THREE.Points(geometry, new THREE.PointsMaterial({ size, vertexColors: true, sizeAttenuation: p.dims === 3 }));
    this.scene.add(this.points);
    if (p.dims === 3) {
      const cam = new THREE.PerspectiveCamera(50, width / height, 0.01, 100);
      cam.position.set(1.6, 1.2, 2.2);
      this.camera = cam;
      this.raycaster.params.Points = { threshold: 0.02 };
    } else {
      const aspect = width / height;
      this.camera = new THREE.OrthographicCamera(-1.1 * aspect, 1.1 * aspect, 1.1, -1.1, -10, 10);
      this.camera.position.set(0, 0, 5);
      this.raycaster.params.Points = { threshold: 0.015 };
    }
    this.controls = new OrbitControls(this.camera, this.renderer.domElement);
    this.controls.enableRotate = p.dims === 3;
    this.controls.screenSpacePanning = true;
    this.renderer.domElement.addEventListener('pointermove', (ev) => this.hover(ev));
    this.renderer.domElement.addEventListener('pointerleave', () => this.onHover(null, 0, 0));
    const loop = () => {
      this.controls.update();
      this.renderer.render(this.scene, this.camera);
      this.frame = requestAnimationFrame(loop);
    };
    loop();
  }

  private bounds(): [number[], number[]] {
    const lo = Array(this.p.dims).fill(Infinity);
    const hi = Array(this.p.dims).fill(-Infinity);
    for (const c of this.p.coords) c.forEach((v, d) => ((lo[d] = Math.min(lo[d], v)), (hi[d] = Math.max(hi[d], v))));
    return [lo, hi];
  }

  private hover(ev: PointerEvent): void {
    const rect = this.renderer.domElement.getBoundingClientRect();
    const ndc = new THREE.Vector2(((ev.clientX - rect.left) / rect.width) * 2 - 1, -((ev.clientY - rect.top) / rect.height) * 2 + 1);
    this.raycaster.setFromCamera(ndc, this.camera);
    const hit = this.points ? this.raycaster.intersectObject(this.points)[0] : undefined;
    this.onHover(hit?.index ?? null, ev.clientX, ev.clientY);
  }

  dispose(): void {
    cancelAnimationFrame(this.frame);
    this.controls.dispose();
    this.points?.geometry.dispose();
    this.renderer.dispose();
    this.renderer.domElement.remove();
  }
}

export function projectorView(root: HTMLElement, runArg: string | undefined): () => void {
  let scatter: Scatter | null = null;
  const tooltip = h('div', { id: 'tooltip' });
  document.body.append(tooltip);
  const host = h('div', { id: 'scatter' });
  const info = h('p', { id: 'projection-info' });
  const downloads = h('p', { id: 'downloads' });
  const legend = h('div', { class: 'legend' });
  const form = h('form', { class: 'inline', id: 'projector-form' });
  root.append(h('h2', {}, 'Projector'), form, info, legend, host, downloads);

  // A newer draw (the form submitted again while a projection is computed) supersedes an older one.
  let latestDraw = 0;
  const draw = async (runs: RunSummary[]) => {
    const thisDraw = ++latestDraw;
    const data = new FormData(form);
    const run = String(data.get('run'));
    const method = String(data.get('method'));
    const q: Record<string, string> = { method, dims: String(data.get('dims')), source: String(data.get('source')), count: String(data.get('count')) };
    if (method === 'custom') Object.assign(q, { left: String(data.get('left')), right: String(data.get('right')) });
    const query = api.projectionQuery(q);
    scatter?.dispose();
    scatter = null;
    host.removeAttribute('data-sprite');
    info.textContent = 'computing the projection (t-SNE and UMAP take a while the first time)…';
    downloads.replaceChildren();
    try {
      const p = await api.projection(run, query);
      if (thisDraw !== latestDraw || !runs.some((r) => r.id === run)) return;
      info.textContent = `${p.count} test images, ${p.source.kind === 'pixels' ? 'raw pixels' : 'learned features'} (${p.source.dim} dims) → ${p.method} ${p.dims}-D · 10-NN label agreement ${pct(p.quality.original, 1)} in the original space, ${pct(p.quality.projection, 1)} in the projection`;
      legend.replaceChildren(...p.classNames.map((n, c) => h('span', {}, h('i', { style: `background:${CLASS_COLOURS[c]}` }), n)));
      const sprite = api.projectionFile(run, 'sprite.png', query);
      // Loaded before the first hover, so that a tooltip never shows an empty thumbnail.
      const preload = new Image();
      preload.onload = () => host.setAttribute('data-sprite', 'loaded');
      preload.src = sprite;
      const side = Math.max(1, Math.ceil(Math.sqrt(p.count)));
      scatter = new Scatter(host, p, (i, x, y) => {
        if (i === null) {
          tooltip.style.display = 'none';
          return;
        }
        const scale = 2;
        tooltip.replaceChildren(
          h('div', { class: 'thumb', style: `background-image:url("${sprite}");background-size:${side * THUMB * scale}px;background-position:-${(i % side) * THUMB * scale}px -${Math.floor(i / side) * THUMB * scale}px` }),
          h('div', { id: 'tooltip-label' }, `${p.classNames[p.labels[i]]} (test image ${p.indices[i]})`),
        );
        Object.assign(tooltip.style, { display: 'block', left: `${x + 12}px`, top: `${y + 12}px` });
      });
      host.setAttribute('data-points', String(p.count));
      downloads.append('TensorBoard projector files: ', ...['tensors.tsv', 'metadata.tsv', 'sprite.png', 'projector_config.json', 'projector_config.pbtxt'].flatMap((f) => [h('a', { href: api.projectionFile(run, f, query), download: f }, f), ' ']));
    } catch (e) {
      if (thisDraw === latestDraw) info.replaceChildren(errorBox(e));
    }
  };

  api.runs().then(({ runs }) => {
    const usable = runs.filter((r) => !r.error);
    if (!usable.length) {
      root.append(errorBox('no runs yet: train one first'));
      return;
    }
    const runSelect = select('run', usable.map((r) => r.id), runArg ?? usable[0].id);
    form.append(runSelect, select('method', ['pca', 'tsne', 'umap', 'custom'], 'pca'), select('dims', ['2', '3'], '2'), select('source', ['features', 'pixels'], 'features'), h('label', {}, 'points', h('input', { name: 'count', value: '2500', size: '6' })), h('label', {}, 'custom: left', h('input', { name: 'left', value: 'Sandal|Sneaker', size: '10' })), h('label', {}, 'right', h('input', { name: 'right', value: 'Ankle boot', size: '10' })), h('button', { type: 'submit' }, 'Project'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void draw(usable);
    });
    void draw(usable);
  }, (e) => root.append(errorBox(e)));

  return () => {
    scatter?.dispose();
    tooltip.remove();
  };
}
