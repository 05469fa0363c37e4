"""PyTorch's inference latency on the same model files as bench/predict_latency: the
nn.Sequential that bench/torch_train.py builds from a .cfg, in evaluation mode, called
one batch at a time (batch 1 and 8) under torch.no_grad ("eager") and under
torch.inference_mode, each call timed alone (on a GPU, synchronised). One JSON line per
(mode, batch) with p50 and p99 in microseconds.

  /work/venv-torch/bin/python bench/torch_latency.py models/mlp.cfg --threads 1 --calls 3000
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_train import build, read_cfg  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    _, model, in_shape = build(read_cfg(a.model))
    model = model.to(dev).eval()
    name = os.path.basename(a.model)
    for mode in ("eager", "inference_mode"):
        ctx = torch.no_grad if mode == "eager" else torch.inference_mode
        for batch in (1, 8):
            x = torch.rand([batch] + in_shape, device=dev) - 0.5
            times = []
            with ctx():
                for k in range(100 + a.calls):
                    t0 = time.perf_counter_ns()
                    y = model(x)
                    if dev.type == "cuda":
                        torch.cuda.synchronize()
                    else:
                        y = y.numpy()  # the result in host memory, as dlc_infer_run gives it
                    if k >= 100:
                        times.append((time.perf_counter_ns() - t0) / 1000)
            times.sort()
            print(json.dumps({"bench": "predict_latency", "framework": f"pytorch-{mode}", "torch": torch.__version__,
                              "model": name, "device": a.device, "threads": a.threads, "batch": batch,
                              "calls": a.calls, "p50_us": round(times[len(times) // 2], 2),
                              "p99_us": round(times[len(times) * 99 // 100], 2)}), flush=True)


if __name__ == "__main__":
    main()
