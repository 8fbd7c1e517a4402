"""Benchmark the serving image: its size and its cold start to ready.

Targets (from issue 5): image <= 300 MB; cold start to ready <= 2 s on 2 cores.

- size: the image's uncompressed size as the engine reports it (`podman image inspect`),
  against its base image, which every Python image pays whatever it serves.
- cold start: from `podman run --detach` (a new container of the built image, read-only root,
  port published on loopback) until `GET /v2/health/ready` answers 200, polled every 10 ms;
  median of `--runs`. Baseline: `podman run --rm IMAGE python -c pass`, the same container
  start with an interpreter that imports nothing and exits. The difference is what the server
  itself costs: imports, loading the ONNX model, binding the port.

Build the image first (`make image`); podman runs with runc, as everywhere on this machine.

    .venv/bin/python benchmarks/bench_image.py [--image modelgate-serve:latest] [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from _common import load_average, target_line, write_results

ROOT = Path(__file__).resolve().parents[1]
PODMAN = ("podman", "--runtime", "runc")
TARGET_MB = 300.0
TARGET_COLD_START_S = 2.0
READY_TIMEOUT_S = 60.0


def _podman(*args: str) -> str:
    done = subprocess.run([*PODMAN, *args], check=True, capture_output=True, text=True)
    return done.stdout.strip()


def _size_mb(image: str) -> float:
    return int(_podman("image", "inspect", "--format", "{{.Size}}", image)) / 1e6


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError):
        return False


def cold_start(image: str) -> float:
    """Seconds from `podman run` to the first 200 from the readiness endpoint."""
    name, port = f"bench-image-{uuid.uuid4().hex[:8]}", _free_port()
    url = f"http://127.0.0.1:{port}/v2/health/ready"
    start = time.perf_counter()
    try:
        _podman("run", "--detach", "--read-only", "--no-healthcheck", "--name", name,
                "--publish", f"127.0.0.1:{port}:8080", image)  # fmt: skip
        while not _ready(url):
            if time.perf_counter() - start > READY_TIMEOUT_S:
                raise TimeoutError(f"{image} not ready after {READY_TIMEOUT_S} s")
            time.sleep(0.01)
        return time.perf_counter() - start
    finally:
        subprocess.run([*PODMAN, "rm", "--force", "--time", "0", name], capture_output=True)


def bare_start(image: str) -> float:
    start = time.perf_counter()
    _podman("run", "--rm", "--read-only", "--no-healthcheck", image, "python", "-c", "pass")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--image", default="modelgate-serve:latest")
    parser.add_argument("--base", default="localhost/debian-python:bookworm",
                        help="the base image the size is compared with")  # fmt: skip
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    base = args.base
    print(f"load average at start: {load_average()}")
    cold_start(args.image)  # warm-up: page cache and podman's storage, as on a node that pulled
    cold = [cold_start(args.image) for _ in range(args.runs)]
    bare = [bare_start(args.image) for _ in range(args.runs)]
    size, base_size = _size_mb(args.image), _size_mb(base)
    cold_s, bare_s = statistics.median(cold), statistics.median(bare)
    print(f"\n{'measure':<28}{'image':>10}{'baseline':>10}{'ratio':>8}  baseline is")
    print(f"{'size MB':<28}{size:>10.0f}{base_size:>10.0f}{size / base_size:>8.2f}  {base}")
    print(
        f"{'cold start to ready s':<28}{cold_s:>10.2f}{bare_s:>10.2f}{cold_s / bare_s:>8.2f}"
        "  podman run --rm IMAGE python -c pass"
    )
    print(f"cold start runs: {', '.join(f'{t:.2f}' for t in cold)} s (median of {args.runs})")
    print()
    for name, value, target, unit in (
        ("image size", size, TARGET_MB, "MB"),
        ("cold start to ready", cold_s, TARGET_COLD_START_S, "s"),
    ):
        print(target_line(name, value, f"{value:.2f} {unit}", target, f" {unit}"))
    print(f"load average at end: {load_average()}")
    if args.json:
        figures = {
            "image": args.image,
            "size_mb": size,
            "baseline": {"image": base, "size_mb": base_size, "bare_start_s": bare},
            "cold_start_s": cold,
            "cold_start_median_s": cold_s,
        }
        write_results("bench_image", figures)


if __name__ == "__main__":
    main()
