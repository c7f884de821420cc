#!/usr/bin/env python3
"""PyTorch equivalent of fashion-cnn's `best` (src/models/registry.ts, resnet9), for side-by-side speed.

Set-up (Debian):  ../shared/bench/setup-torch.sh   (PyTorch 1.13, OpenMP OpenBLAS)
Run:   /usr/bin/python3 bench/torch_best.py [--model best] [--batches 20] [--epochs 0]
Measured exactly as ../shared/bench/torch_reference.py measures cnn1/cnn3/cnn4 (one JSON line
starting with RESULT: training images/second at batch 256 with Adam 1e-3 and cross-entropy, the
median step after warm-up; inference images/second at batch 1000; 2 threads), so that
`fashion-cnn bench --models best` can put it beside the native backend.

The network, layer for layer as Keras builds it: units of 3x3 'same' convolution with bias and
ReLU, then batch norm (momentum 0.9 in Keras's convention, PyTorch's 0.1; epsilon 1e-3); 2x2 max
pools (floor, as Keras's 'valid'); two residual additions; a 3x3 max pool over the last 3x3 map;
flatten; a bias-less dense 10 whose logits are scaled by 1/8 (softmax inside the loss). Parameter
count (running statistics included, as Keras counts them): 1,648,896, checked below.
"""
import argparse, gzip, json, sys, time
import numpy as np, torch, torch.nn as nn

KERAS_PARAMS = 1_648_896  # fashion-cnn models: best
KERAS_BN = dict(momentum=0.1, eps=1e-3)  # best's batch norm: Keras momentum 0.9 (PyTorch counts the other way), epsilon 1e-3
LOGIT_SCALE = 0.125

p = argparse.ArgumentParser()
p.add_argument('--model', default='best', choices=['best'])
p.add_argument('--batches', type=int, default=20)
p.add_argument('--warmup', type=int, default=3)
p.add_argument('--bs', type=int, default=256)
p.add_argument('--threads', type=int, default=2)
p.add_argument('--epochs', type=int, default=0)
p.add_argument('--data', default='/usr/share/datasets/fashion-mnist')
p.add_argument('--describe', action='store_true', help='print the parameters of each layer with weights (LAYERS line) and exit')
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(13)


def load(kind):
    img = np.frombuffer(gzip.open(f'{a.data}/{kind}-images-idx3-ubyte.gz').read(), np.uint8, offset=16)
    lab = np.frombuffer(gzip.open(f'{a.data}/{kind}-labels-idx1-ubyte.gz').read(), np.uint8, offset=8)
    return torch.from_numpy((img.reshape(-1, 1, 28, 28) / 255.0).astype(np.float32)), torch.from_numpy(lab.astype(np.int64))


def conv_bn(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(cout, **KERAS_BN))


class Residual(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(conv_bn(channels, channels), conv_bn(channels, channels))

    def forward(self, x):
        return x + self.body(x)


def best():
    return nn.Sequential(
        conv_bn(1, 32),                                   # prep, 28x28
        conv_bn(32, 64), nn.MaxPool2d(2), Residual(64),   # layer1 + res1, 14x14
        conv_bn(64, 128), nn.MaxPool2d(2),                # layer2, 7x7
        conv_bn(128, 256), nn.MaxPool2d(2), Residual(256),  # layer3 + res3, 3x3
        nn.MaxPool2d(3), nn.Flatten(), nn.Linear(256, 10, bias=False), Scale(LOGIT_SCALE))


class Scale(nn.Module):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


def count(model):
    return sum(p.numel() for p in model.parameters()) + sum(b.numel() for n, b in model.named_buffers() if 'running' in n)


model = best()
params = count(model)
if a.describe:
    # Per layer, in order, as Keras counts a layer's weights: the test compares it with the TF.js model's.
    layers = [count(m) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.Linear))]
    print('LAYERS ' + json.dumps({'params': params, 'layers': layers}))
    sys.exit(0)
print(f'best: {params:,} parameters (Keras model: {KERAS_PARAMS:,})', file=sys.stderr)
if params != KERAS_PARAMS:
    sys.exit(f'torch_best.py: the PyTorch network has {params:,} parameters, the Keras model {KERAS_PARAMS:,}: they are not the same network')
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
lossf = nn.CrossEntropyLoss()
X, Y = load('train')


def step(x, y):
    opt.zero_grad(); loss = lossf(model(x), y); loss.backward(); opt.step(); return loss.item()


model.train(); times = []
for b in range(a.warmup + a.batches):
    off = (b * a.bs) % (X.shape[0] - a.bs + 1)
    t0 = time.perf_counter(); step(X[off:off + a.bs], Y[off:off + a.bs]); dt = time.perf_counter() - t0
    if b >= a.warmup: times.append(dt)
med = sorted(times)[len(times) // 2]
res = {'framework': f'torch {torch.__version__}', 'blas': torch.__config__.show().count('BLAS'), 'model': a.model,
       'params': params, 'threads': torch.get_num_threads(), 'batch': a.bs,
       'train_img_per_s': round(a.bs / med, 1)}
model.eval(); x = X[:1000]; it = []
with torch.no_grad():
    for r in range(6):
        t0 = time.perf_counter(); model(x).softmax(1); dt = time.perf_counter() - t0
        if r: it.append(dt)
res['infer_img_per_s'] = round(1000 / sorted(it)[len(it) // 2], 1)
if a.epochs:
    torch.manual_seed(13); model = best()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(13); perm = torch.randperm(60000, generator=g)
    tr, va = perm[:48000], perm[48000:]
    t0 = time.perf_counter()
    for e in range(a.epochs):
        model.train(); order = tr[torch.randperm(48000, generator=g)]
        for i in range(0, 48000, a.bs):
            idx = order[i:i + a.bs]; step(X[idx], Y[idx])
    res['train_s'] = round(time.perf_counter() - t0, 1)
    Xt, Yt = load('t10k'); model.eval()
    with torch.no_grad():
        out = model(Xt); res['test_loss'] = round(lossf(out, Yt).item(), 4)
        res['test_acc'] = round((out.argmax(1) == Yt).float().mean().item(), 4)
    res['epochs'] = a.epochs
print('RESULT ' + json.dumps(res))
