"""PyTorch's training speed on the same model file and data as `dlcuda train`.

Builds an nn.Sequential from a libdlcuda .cfg (the same layers in the same order), loads
Fashion-MNIST from the IDX files, and times training steps (forward, cross-entropy,
backward, optimizer step) at the file's batch size, on the CPU with the given number of
threads or on the GPU (--device cuda: the data set lives on the GPU, timed between
synchronisations; --compile: torch.compile'd, "reduce-overhead" mode = CUDA graphs).
Prints one JSON line with images per second.

  /usr/bin/python3 bench/torch_train.py models/mlp.cfg --threads 2 --steps 200
  python3 bench/torch_train.py models/fashion_cnn.cfg --device cuda --steps 200 [--compile]
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn


def read_cfg(path):
    sections = []
    for raw in open(path):
        line = raw.split(";")[0].split("#")[0].strip()
        if not line:
            continue
        if line.startswith("["):
            sections.append((line[1:line.index("]")], {}))
        else:
            k, v = (s.strip() for s in line.split("=", 1))
            sections[-1][1][k] = v
    return sections


def ints(v):
    return [int(x) for x in v.split(",")]


def build(sections):
    net = dict(sections[0][1])
    shape = ints(net["input"])
    layers = []
    for kind, kv in sections[1:]:
        if kind == "dense":
            layers.append(nn.Linear(shape[-1], int(kv["units"]), bias=kv.get("bias", "1") == "1"))
            shape = shape[:-1] + [int(kv["units"])]
        elif kind in ("relu", "tanh", "sigmoid"):
            layers.append({"relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid()}[kind])
        elif kind == "leaky_relu":
            layers.append(nn.LeakyReLU(float(kv.get("slope", 0.01))))
        elif kind == "dropout":
            layers.append(nn.Dropout(float(kv.get("p", 0.5))))
        elif kind == "flatten":
            layers.append(nn.Flatten())
            shape = [int(np.prod(shape))]
        elif kind == "batchnorm":
            layers.append(nn.BatchNorm2d(shape[0]) if len(shape) == 3 else nn.BatchNorm1d(shape[0]))
        elif kind == "conv2d":
            k = ints(kv["size"]) * (1 if "," in kv["size"] else 2)
            s = ints(kv.get("stride", "1")) * (1 if "," in kv.get("stride", "1") else 2)
            p = ints(kv.get("pad", "0")) * (1 if "," in kv.get("pad", "0") else 2)
            d = ints(kv.get("dilation", "1")) * (1 if "," in kv.get("dilation", "1") else 2)
            g = int(kv.get("groups", 1))
            f = int(kv["filters"])
            layers.append(nn.Conv2d(shape[0], f, k[:2], s[:2], p[:2], d[:2], g, bias=kv.get("bias", "1") == "1"))
            h = (shape[1] + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
            w = (shape[2] + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
            shape = [f, h, w]
        elif kind in ("maxpool", "avgpool"):
            k = int(kv.get("size", 2))
            s = int(kv.get("stride", k))
            p = int(kv.get("pad", 0))
            layers.append(nn.MaxPool2d(k, s, p) if kind == "maxpool" else nn.AvgPool2d(k, s, p))
            shape = [shape[0], (shape[1] + 2 * p - k) // s + 1, (shape[2] + 2 * p - k) // s + 1]
        elif kind == "softmax_xent":
            pass
        else:
            raise SystemExit(f"torch_train.py: section [{kind}] is not mirrored here")
    return net, nn.Sequential(*layers), ints(net["input"])


def load_idx(folder):
    with gzip.open(os.path.join(folder, "train-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(os.path.join(folder, "train-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return x, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--compile", action="store_true", help="torch.compile(mode='reduce-overhead')")
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net, model, in_shape = build(read_cfg(a.model))
    model = model.to(dev)
    batch = int(net.get("batch", 64))
    lr = float(net.get("lr", 0.01))
    kind = net.get("optimizer", "sgd")
    if kind == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=float(net.get("momentum", 0)),
                              weight_decay=float(net.get("weight_decay", 0)))
    else:
        cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        opt = cls(model.parameters(), lr=lr, weight_decay=float(net.get("weight_decay", 0)))
    x, y = load_idx(a.data)
    mean, std = float(net.get("mean", "0").split(",")[0]), float(net.get("std", "1").split(",")[0])
    xs = torch.from_numpy(((x.astype(np.float32) / 255 - mean) / std).reshape([-1] + in_shape)).to(dev)
    ys = torch.from_numpy(y.astype(np.int64)).to(dev)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    n = xs.shape[0]
    perm = torch.randperm(n, device=dev)
    batches = max(1, (n - batch) // batch)

    def train_step(xb, yb):
        opt.zero_grad(set_to_none=False)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    run = torch.compile(train_step, mode="reduce-overhead") if a.compile else train_step

    def step(i):
        k = (i % batches) * batch
        idx = perm[k:k + batch]
        return run(xs[idx], ys[idx])

    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)
    for i in range(10 if not a.compile else 30):  # warm-up (and compilation)
        step(i)
    sync()
    t0 = time.perf_counter()
    for i in range(a.steps):
        step(i)
    sync()
    dt = time.perf_counter() - t0
    name = torch.cuda.get_device_name() if a.device == "cuda" else "cpu"
    print(json.dumps({"framework": "pytorch " + torch.__version__, "model": a.model, "device": name,
                      "mode": "compile-reduce-overhead" if a.compile else "eager",
                      "threads": a.threads, "batch": batch, "steps": a.steps,
                      "images_per_second": a.steps * batch / dt}))


if __name__ == "__main__":
    main()
