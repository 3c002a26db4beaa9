#!/usr/bin/env python3
"""PyTorch and JAX side of `backprop bench train`: the same MNIST training configurations,
written the way each framework's users write them, timed the same way.

Usage:
  peers.py --check torch|jax
      exit 0 and print the version when the framework is importable, else exit 1 with a reason.
  peers.py --framework torch|jax --config JSON --threads N [--runs 3] [--max-attempts 10] [--seconds 1]
      JSON is the Swift TrainingBenchmark.Configuration: {"key", "sizes", "activation",
      "batchNorm", "batchSize", "optimizer"}, the optimizer as Backprop encodes an
      OptimizerSpecification ({"name": "sgd"|"momentum"|"adam", "learningRate", "hyperParameters"})
      or the older string "sgd:lr=…", "momentum:lr=…,momentum=…", "adam:lr=…".
  peers.py --describe-config JSON
      print the configuration as this script reads it (optimizer name and hyper-parameters) and exit;
      needs neither framework (Backprop's tests call it).

Prints one JSON line {"kind": "result", "framework", "config", "threads", "runs": [{samples_per_second,
cores, other_load, clean, epochs, loss}], "peak_rss_bytes"}, parsed by the Swift bench.

Data: the MNIST training set shipped with Backprop (Sources/Backprop/Resources/mnist/*.gz), read with
gzip + numpy and kept as uint8 (47 MB); each epoch shuffles an index and gathers each batch, converting
it to float32 / 255 — the same work as Backprop's DataLoader.

- PyTorch: nn.Sequential (Linear, [BatchNorm1d], Sigmoid/ReLU, …, Linear), F.cross_entropy,
  torch.optim (SGD, SGD(momentum=0.9), Adam), zero_grad(set_to_none=True); torch.set_num_threads(N).
  Batches are gathered with index_select on a uint8 tensor (faster than torch.utils.data.DataLoader,
  which would only add per-example Python overhead).
- JAX: a jax.jit-compiled step (forward, loss, grad, optax update; BN running statistics as state),
  the uint8 data set on the device and the batch gather inside the jitted step; parameters and
  optimizer state donated. Thread count through XLA_FLAGS (intra-op threads) set before jax loads.

A run is whole epochs (as many as fill --seconds, after a warm-up); it is clean when other processes
used at most 0.1 cores meanwhile (/proc/stat); runs repeat until --runs clean ones or --max-attempts.
"""
import argparse
import gzip
import json
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MNIST_DIR = os.path.join(HERE, "..", "Sources", "Backprop", "Resources", "mnist")


def load_mnist():
    import numpy as np
    with gzip.open(os.path.join(MNIST_DIR, "train-images-idx3-ubyte.gz"), "rb") as f:
        images = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(os.path.join(MNIST_DIR, "train-labels-idx1-ubyte.gz"), "rb") as f:
        labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8).astype(np.int64)
    return images, labels


# The optimizers this script builds, and the hyper-parameters each takes from Backprop's
# configuration (Backprop's keys; "lr" is the learning rate). Anything else is refused rather than
# silently dropped, so the peers never train with settings Backprop does not use.
OPTIMIZER_KEYS = {"sgd": {"lr"}, "momentum": {"lr", "momentum"}, "adam": {"lr", "beta1", "beta2", "epsilon"}}


def parse_optimizer(spec):
    """(name, hyper) from the configuration's optimizer: Backprop's OptimizerSpecification as JSON
    ({"name", "learningRate", "hyperParameters"}), or the older one-string form "name:lr=…,key=…"."""
    if isinstance(spec, dict):
        name = spec.get("name")
        hyper = {key: float(value) for key, value in (spec.get("hyperParameters") or {}).items()}
        if spec.get("learningRate") is not None:
            hyper["lr"] = float(spec["learningRate"])
    elif isinstance(spec, str):
        name, _, rest = spec.partition(":")
        hyper = {}
        for part in filter(None, rest.split(",")):
            key, _, value = part.partition("=")
            hyper[key.strip()] = float(value)
    else:
        raise SystemExit(f"peers.py: optimizer {spec!r} is neither an object nor a string")
    if name not in OPTIMIZER_KEYS:
        raise SystemExit(f"peers.py: unknown optimizer {name!r} (expected one of {sorted(OPTIMIZER_KEYS)})")
    unknown = sorted(set(hyper) - OPTIMIZER_KEYS[name])
    if unknown:
        raise SystemExit(f"peers.py: {name} does not take {', '.join(unknown)} here")
    return name, hyper


def machine_busy_seconds():
    try:
        with open("/proc/stat") as f:
            fields = [float(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    total = sum(fields[:8])
    idle = fields[3] + fields[4]
    return (total - idle) / os.sysconf("SC_CLK_TCK")


def peak_rss_bytes():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(run_epochs, samples_per_epoch, warm_up, runs, max_attempts, seconds, max_other=0.1):
    """run_epochs(n, seed) trains n epochs and returns the last loss; warm_up() returns samples/s."""
    rate = warm_up()
    epochs = max(1, int(-(-seconds * rate // samples_per_epoch)))
    results, clean, attempt = [], 0, 0
    while clean < runs and attempt < max_attempts:
        attempt += 1
        busy0 = machine_busy_seconds()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        loss = run_epochs(epochs, attempt)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        busy1 = machine_busy_seconds()
        other = max(0.0, (busy1 - busy0) - cpu) / wall if busy0 is not None and busy1 is not None else 0.0
        ok = other <= max_other
        clean += ok
        results.append({"samples_per_second": epochs * samples_per_epoch / wall, "cores": cpu / wall,
                        "other_load": other, "clean": ok, "epochs": epochs, "loss": float(loss)})
    return results


# MARK: PyTorch

def torch_bench(config, threads, args):
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    images, labels = load_mnist()
    X = torch.from_numpy(images.copy())          # uint8 [60000, 784]
    Y = torch.from_numpy(labels)
    n = X.shape[0]
    sizes, bs = config["sizes"], config["batchSize"]
    Act = nn.Sigmoid if config["activation"] == "sigmoid" else nn.ReLU
    name, hyper = parse_optimizer(config["optimizer"])

    def make():
        layers = []
        for i in range(len(sizes) - 2):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if config["batchNorm"]:
                layers.append(nn.BatchNorm1d(sizes[i + 1]))
            layers.append(Act())
        layers.append(nn.Linear(sizes[-2], sizes[-1]))
        model = nn.Sequential(*layers)
        lr = hyper.get("lr", 0.01)
        if name == "sgd":
            opt = torch.optim.SGD(model.parameters(), lr=lr)
        elif name == "momentum":
            opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=hyper.get("momentum", 0.9))
        elif name == "adam":
            opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(hyper.get("beta1", 0.9), hyper.get("beta2", 0.999)),
                                   eps=hyper.get("epsilon", 1e-8))
        else:
            raise SystemExit(f"unknown optimizer {name}")
        return model, opt

    def train(model, opt, epochs, seed, max_steps=None):
        g = torch.Generator().manual_seed(seed)
        model.train()
        steps, loss = 0, torch.tensor(0.0)
        for _ in range(epochs):
            perm = torch.randperm(n, generator=g)
            for start in range(0, n, bs):
                idx = perm[start:start + bs]
                x = X.index_select(0, idx).float().div_(255)
                y = Y.index_select(0, idx)
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                opt.step()
                steps += 1
                if max_steps is not None and steps >= max_steps:
                    return loss.item()
        return loss.item()

    torch.manual_seed(1)

    def warm_up():
        start, samples = time.perf_counter(), 0
        while time.perf_counter() - start < 0.5 or samples == 0:
            model, opt = make()
            train(model, opt, 1, 99, max_steps=100)
            samples += 100 * bs
        return samples / (time.perf_counter() - start)

    def run_epochs(epochs, seed):
        model, opt = make()
        return train(model, opt, epochs, seed)

    return measure(run_epochs, n, warm_up, args.runs, args.max_attempts, args.seconds)


# MARK: JAX

def jax_bench(config, threads, args):
    import numpy as np
    import jax
    import jax.numpy as jnp
    import optax

    images, labels = load_mnist()
    X = jax.device_put(images)                    # uint8 on the (CPU) device
    Y = jax.device_put(labels.astype(np.int32))
    n = images.shape[0]
    sizes, bs = config["sizes"], config["batchSize"]
    bn = config["batchNorm"]
    act = jax.nn.sigmoid if config["activation"] == "sigmoid" else jax.nn.relu
    name, hyper = parse_optimizer(config["optimizer"])
    lr = hyper.get("lr", 0.01)
    if name == "sgd":
        tx = optax.sgd(lr)
    elif name == "momentum":
        tx = optax.sgd(lr, momentum=hyper.get("momentum", 0.9))
    elif name == "adam":
        tx = optax.adam(lr, b1=hyper.get("beta1", 0.9), b2=hyper.get("beta2", 0.999), eps=hyper.get("epsilon", 1e-8))
    else:
        raise SystemExit(f"unknown optimizer {name}")

    def init(key):
        params, stats = [], []
        for i in range(len(sizes) - 1):
            key, k1, k2 = jax.random.split(key, 3)
            bound = 1 / np.sqrt(sizes[i])
            layer = {"w": jax.random.uniform(k1, (sizes[i], sizes[i + 1]), jnp.float32, -bound, bound),
                     "b": jax.random.uniform(k2, (sizes[i + 1],), jnp.float32, -bound, bound)}
            if bn and i < len(sizes) - 2:
                layer["gamma"] = jnp.ones((sizes[i + 1],), jnp.float32)
                layer["beta"] = jnp.zeros((sizes[i + 1],), jnp.float32)
                stats.append({"mean": jnp.zeros((sizes[i + 1],)), "var": jnp.ones((sizes[i + 1],))})
            params.append(layer)
        return params, stats

    def forward(params, stats, x):
        new_stats = []
        for i, layer in enumerate(params):
            x = x @ layer["w"] + layer["b"]
            if i < len(params) - 1:
                if bn:
                    mean = x.mean(axis=0)
                    var = x.var(axis=0)
                    x = (x - mean) * jax.lax.rsqrt(var + 1e-5) * layer["gamma"] + layer["beta"]
                    m = x.shape[0]
                    s = stats[i]
                    new_stats.append({"mean": 0.9 * s["mean"] + 0.1 * jax.lax.stop_gradient(mean),
                                      "var": 0.9 * s["var"] + 0.1 * jax.lax.stop_gradient(var) * m / (m - 1)})
                x = act(x)
        return x, new_stats

    def loss_fn(params, stats, x, y):
        logits, new_stats = forward(params, stats, x)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, new_stats

    def step(params, stats, opt_state, idx):
        x = X[idx].astype(jnp.float32) / 255
        y = Y[idx]
        (loss, new_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, stats, x, y)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return params, new_stats, opt_state, loss

    step = jax.jit(step, donate_argnums=(0, 1, 2))

    def train(epochs, seed, max_steps=None):
        params, stats = init(jax.random.PRNGKey(seed))
        opt_state = tx.init(params)
        rng = np.random.default_rng(seed)
        steps, loss = 0, jnp.float32(0)
        for _ in range(epochs):
            perm = rng.permutation(n).astype(np.int32)
            full = n // bs * bs
            batches = perm[:full].reshape(-1, bs)
            for idx in batches:
                params, stats, opt_state, loss = step(params, stats, opt_state, idx)
                steps += 1
                if max_steps is not None and steps >= max_steps:
                    return float(loss)
            if full < n:   # the last, smaller batch (compiled once for its shape)
                params, stats, opt_state, loss = step(params, stats, opt_state, perm[full:])
        return float(loss)

    def warm_up():
        train(1, 98)   # compiles both batch shapes
        start, samples = time.perf_counter(), 0
        while time.perf_counter() - start < 0.5 or samples == 0:
            train(1, 99, max_steps=100)
            samples += 100 * bs
        return samples / (time.perf_counter() - start)

    return measure(lambda epochs, seed: train(epochs, seed), n, warm_up, args.runs, args.max_attempts, args.seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", choices=["torch", "jax"])
    parser.add_argument("--framework", choices=["torch", "jax"])
    parser.add_argument("--config")
    parser.add_argument("--describe-config", metavar="JSON",
                        help="print what would be trained for this configuration (no framework needed) and exit")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-attempts", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()

    if args.describe_config:
        config = json.loads(args.describe_config)
        name, hyper = parse_optimizer(config["optimizer"])
        print(json.dumps({"key": config["key"], "sizes": config["sizes"], "activation": config["activation"],
                          "batchNorm": config["batchNorm"], "batchSize": config["batchSize"],
                          "optimizer": name, "hyper": hyper}, sort_keys=True))
        return

    if args.check:
        try:
            if args.check == "torch":
                import torch
                capability = torch.backends.cpu.get_cpu_capability()
                mkl = os.environ.get("MKL_ENABLE_INSTRUCTIONS", "best")
                print(f"PyTorch {torch.__version__} (ATen CPU capability {capability}, MKL instructions {mkl})")
            else:
                import jax
                import optax
                isa = [f for f in os.environ.get("XLA_FLAGS", "").split() if f.startswith("--xla_cpu_max_isa=")]
                print(f"JAX {jax.__version__}, optax {optax.__version__} "
                      f"(XLA CPU ISA {isa[0].split('=', 1)[1] if isa else 'best'})")
        except ImportError as error:
            print(f"{error}")
            sys.exit(1)
        return

    config = json.loads(args.config)
    if args.framework == "jax":
        # Before jax loads: the CPU client's intra-op thread pool size, one device.
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = (flags + f" --xla_cpu_multi_thread_eigen={'true' if args.threads > 1 else 'false'}"
                                   f" intra_op_parallelism_threads={args.threads}").strip()
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        # XLA's CPU runtime may still start helper threads; pinning the process to N processors
        # makes "N threads" mean N cores for it as for the others.
        if hasattr(os, "sched_setaffinity") and args.threads < len(os.sched_getaffinity(0)):
            os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.threads])
        runs = jax_bench(config, args.threads, args)
    else:
        runs = torch_bench(config, args.threads, args)
    print(json.dumps({"kind": "result", "framework": args.framework, "config": config["key"],
                      "threads": args.threads, "runs": runs, "peak_rss_bytes": peak_rss_bytes()}), flush=True)


if __name__ == "__main__":
    main()
