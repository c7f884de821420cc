import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { metadataTsv, PROJECTOR_FILES, spriteGridSide, spritePng, tensorsTsv, writeProjectorFiles } from '../../src/explain/embed/projector.js';
import { scatterSpec, writeScatter } from '../../src/explain/embed/plot.js';
import { CLASS_NAMES } from '../../src/data/types.js';

/** n thumbnails of `thumb` x `thumb`, thumbnail i filled with grey level i + 1. */
function thumbs(n: number, thumb = 28): Uint8Array {
  const t = new Uint8Array(n * thumb * thumb);
  for (let i = 0; i < n; i++) t.fill(i + 1, i * thumb * thumb, (i + 1) * thumb * thumb);
  return t;
}

test('sprite grid is square, padded, and holds every thumbnail in row order', async () => {
  assert.equal(spriteGridSide(1), 1);
  assert.equal(spriteGridSide(16), 4);
  assert.equal(spriteGridSide(17), 5);
  assert.equal(spriteGridSide(2500), 50);
  assert.equal(spriteGridSide(10_000), 100);
  const n = 17;
  const png = await spritePng(thumbs(n), 28, n);
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.width, 5 * 28);
  assert.equal(info.height, 5 * 28);
  const px = (r: number, c: number) => data[(r * info.width + c) * info.channels];
  for (let i = 0; i < n; i++) {
    const r = Math.floor(i / 5) * 28 + 14;
    const c = (i % 5) * 28 + 14;
    assert.equal(px(r, c), i + 1, `thumbnail ${i}`);
  }
  assert.equal(px(4 * 28 + 14, 4 * 28 + 14), 0, 'padding stays black');
});

test('tensors, metadata and sprite agree on the number of points; configs name every file', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'embed-projector-'));
  try {
    const n = 23;
    const d = 5;
    const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
    const indices = Uint32Array.from({ length: n }, (_, i) => 100 + i);
    const features = { data: Float32Array.from({ length: n * d }, (_, e) => (e % 7) / 7), rows: n, cols: d };
    const projection = { data: Float32Array.from({ length: n * 2 }, (_, e) => e * 0.5), rows: n, cols: 2 };
    await writeProjectorFiles(dir, { features, featuresName: 'pixels', projection, projectionName: 'pca', labels, indices, classNames: CLASS_NAMES, thumbnails: thumbs(n), thumb: 28 });
    const read = (f: string) => readFile(path.join(dir, f), 'utf8');
    const tensorRows = (await read(PROJECTOR_FILES.tensors)).trimEnd().split('\n');
    assert.equal(tensorRows.length, n);
    assert.ok(tensorRows.every((r) => r.split('\t').length === d));
    assert.equal(Number(tensorRows[0].split('\t')[1]), Number((1 / 7).toPrecision(6)));
    const projRows = (await read(PROJECTOR_FILES.projection)).trimEnd().split('\n');
    assert.equal(projRows.length, n);
    const meta = (await read(PROJECTOR_FILES.metadata)).trimEnd().split('\n');
    assert.equal(meta[0], 'class\tlabel\tindex');
    assert.equal(meta.length, n + 1, 'one header row plus one row per vector');
    assert.equal(meta[4], `${CLASS_NAMES[3]}\t3\t103`);
    const sprite = await sharp(path.join(dir, PROJECTOR_FILES.sprite)).metadata();
    assert.equal(sprite.width, spriteGridSide(n) * 28);
    assert.ok(spriteGridSide(n) ** 2 >= n);
    const json = JSON.parse(await read(PROJECTOR_FILES.configJson));
    assert.equal(json.embeddings.length, 2);
    assert.deepEqual(json.embeddings[0], {
      tensorName: 'pixels',
      tensorShape: [n, d],
      tensorPath: 'tensors.tsv',
      metadataPath: 'metadata.tsv',
      sprite: { imagePath: 'sprite.png', singleImageDim: [28, 28] },
    });
    assert.deepEqual(json.embeddings[1].tensorShape, [n, 2]);
    const pbtxt = await read(PROJECTOR_FILES.configPbtxt);
    for (const line of ['tensor_name: "pixels"', `tensor_shape: ${n}`, 'tensor_path: "tensors.tsv"', 'metadata_path: "metadata.tsv"', 'image_path: "sprite.png"', 'single_image_dim: 28']) {
      assert.ok(pbtxt.includes(line), line);
    }
    assert.equal(pbtxt.match(/^embeddings \{$/gm)?.length, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('tensor and metadata text formats', () => {
  assert.equal(tensorsTsv({ data: Float32Array.from([0, 0.5, 1, -2.25]), rows: 2, cols: 2 }), '0\t0.5\n1\t-2.25\n');
  assert.equal(metadataTsv([9], [7], CLASS_NAMES), 'class\tlabel\tindex\nAnkle boot\t9\t7\n');
});

test('scatter plot: one point per row, every class in the legend, 3-D titled as such; SVG and PNG written', async () => {
  const n = 30;
  const coords = Float32Array.from({ length: n * 3 }, (_, e) => Math.sin(e));
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
  const spec = scatterSpec({ coords, dims: 3, labels, classNames: CLASS_NAMES, axes: ['a', 'b', 'c'], title: 't-SNE of pixels' }) as unknown as {
    data: { values: { x: number; y: number; class: string }[] };
    title: { text: string };
    encoding: { color: { scale: { domain: string[] } } };
  };
  assert.equal(spec.data.values.length, n);
  assert.equal(spec.data.values[1].class, CLASS_NAMES[1]);
  assert.ok(Math.abs(spec.data.values[1].x - Math.sin(3)) < 1e-4 && Math.abs(spec.data.values[1].y - Math.sin(4)) < 1e-4);
  assert.deepEqual(spec.encoding.color.scale.domain, [...CLASS_NAMES]);
  assert.match(spec.title.text, /first two of three dimensions/);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'embed-scatter-'));
  try {
    await writeScatter({ coords, dims: 3, labels, classNames: CLASS_NAMES, axes: ['a', 'b', 'c'], title: 'x' }, { svg: path.join(dir, 's.svg'), png: path.join(dir, 's.png') });
    const svg = await readFile(path.join(dir, 's.svg'), 'utf8');
    for (const name of CLASS_NAMES) assert.ok(svg.includes(name), name);
    const meta = await sharp(path.join(dir, 's.png')).metadata();
    assert.equal(meta.format, 'png');
    assert.ok((meta.width ?? 0) > 600);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
