"""Benchmark the serving app over HTTP on loopback, with `wrk` and `hey` as load generators.

Targets (from the issue), on 2 cores:
- single-record `/predict` p50 <= 1.3x the p50 of a no-op endpoint on the same server stack;
- p99 <= 10 ms at half of the peak throughput;
- cold start to ready <= 2 s.

The server is `python -m modelgate.serve` on `models/model.onnx`, one process (uvloop,
httptools, ONNX Runtime with one thread), started with `MODELGATE_NOOP_ROUTE=true`: `POST /noop`
runs the same middleware (metrics, request id, access log) and reads and parses the same JSON
body as `/predict`, then answers without validating or scoring. So the ratio of the two is the
cost of checking and scoring a request, over everything else the stack does.

For each body (1 record and 100 records from the test partition):
1. peak of each endpoint: `wrk -d <peak-seconds> -c <4 x connections>` (closed loop, as fast as
   it answers);
2. latency of each endpoint at the same offered rate, half of /predict's peak:
   `hey -z <seconds> -c <connections> -q <rate / connections>`, p50 and p99. The p99 target is
   judged here. hey paces each connection on its own ticker, so the connections fire together
   and queue behind each other: latency here is a few service times, and the p50 ratio tends
   to the ratio of the endpoints' service times;
3. latency of each endpoint with one client sending one request at a time (`wrk -c 1`, whose
   percentiles have microsecond resolution where hey's have 0.1 ms): what one
   caller waits, network and client included. The p50 ratio target is judged here, the latency a
   caller sees, with both figures printed.
The generator shares the 2 cores with the server, as it would with a sidecar; it is given few
connections so that it does not starve the server. Cold start: process start until
`/v2/health/ready` answers 200, median of `--starts` runs (Python and imports included).

    .venv/bin/python benchmarks/bench_serving.py [--seconds 10] [--connections 4] [--json]
Needs `wrk` and `hey` (Debian packages of those names); hey is the one that can pace requests.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pandas as pd
from _common import ROOT, load_average, target_line, write_results

from modelgate import io
from modelgate.schema import FeatureSchema
from modelgate.smoke import client_records

P50_RATIO_TARGET = 1.3
P99_TARGET_MS = 10.0
COLD_START_TARGET_S = 2.0


def records(rows: int) -> list[dict]:
    schema = FeatureSchema.from_dict(io.read_json(ROOT / "data/processed/schema.json"))
    return client_records(
        pd.read_parquet(ROOT / "data/split/test.parquet").head(rows), schema.features
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int, log: Path) -> tuple[subprocess.Popen[bytes], float]:
    env = {
        **os.environ,
        "MODELGATE_MODEL": str(ROOT / "models/model.onnx"),
        "MODELGATE_PORT": str(port),
        "MODELGATE_NOOP_ROUTE": "true",
    }
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "modelgate.serve"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1) as r:
                if r.status == 200:
                    return process, time.perf_counter() - start
        except OSError:
            time.sleep(0.01)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(30)


def hey(url: str, body: Path, seconds: float, connections: int, rate: float | None = None) -> dict:
    argv = ["hey", "-z", f"{seconds}s", "-c", str(connections), "-m", "POST",
            "-T", "application/json", "-D", str(body), "-disable-keepalive=false"]  # fmt: skip
    if rate is not None:
        argv += ["-q", f"{max(rate / connections, 1):.2f}"]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    statuses = dict(re.findall(r"\[(\d{3})\]\s+(\d+) responses", out))
    if set(statuses) != {"200"}:
        raise RuntimeError(f"non-200 answers from {url}: {statuses}\n{out}")
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _percentile(out, 50),
        "p99_ms": _percentile(out, 99),
        "requests": int(statuses["200"]),
    }


def wrk(url: str, body: Path, seconds: float, connections: int) -> dict:
    """Closed loop with wrk (C, microsecond percentiles): as fast as the server answers."""
    script = body.with_suffix(".lua")
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.body = io.open("{body}"):read("*a")\n'
    )
    argv = ["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d", f"{seconds}s",
            "--latency", "-s", str(script), url]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"errors from {url}:\n{out}")
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _wrk_ms(out, 50),
        "p99_ms": _wrk_ms(out, 99),
    }


def _wrk_ms(out: str, q: int) -> float:
    match = re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
    if not match:
        return math.nan
    return float(match.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[match.group(2)]


def _percentile(out: str, q: int) -> float:
    match = re.search(rf"\s{q}% in ([\d.]+) secs", out)
    return float(match.group(1)) * 1000 if match else math.nan


def measure(port: int, tmp: Path, args: argparse.Namespace) -> dict[str, dict]:
    figures: dict[str, dict] = {}
    for rows in (1, 100):
        body = tmp / f"body-{rows}.json"
        body.write_text(json.dumps(records(rows)))
        urls = {e: f"http://127.0.0.1:{port}/{e}" for e in ("noop", "predict")}
        peaks = {}
        for endpoint, url in urls.items():
            wrk(url, body, 2, args.connections)  # warm-up
            peaks[endpoint] = wrk(url, body, args.peak_seconds, args.connections * 4)["rps"]
        # Both endpoints at the same offered rate: half of what /predict sustains at most.
        rate = peaks["predict"] / 2
        for endpoint, url in urls.items():
            paced = hey(url, body, args.seconds, args.connections, rate=rate)
            alone = wrk(url, body, args.seconds, 1)  # one client, one request at a time
            figures[f"{endpoint} x{rows}"] = {
                "peak_rps": peaks[endpoint],
                **paced,
                "alone_p50_ms": alone["p50_ms"],
                "alone_p99_ms": alone["p99_ms"],
            }
    return figures


def cold_starts(tmp: Path, count: int) -> list[float]:
    times = []
    for _ in range(count):
        process, seconds = start_server(free_port(), tmp / "cold.log")
        stop(process)
        times.append(seconds)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--peak-seconds", type=float, default=8)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if shutil.which("hey") is None or shutil.which("wrk") is None:
        sys.exit("bench_serving: needs `wrk` and `hey` on PATH (apt-get install wrk hey)")
    print(f"load average at start: {load_average()}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        process, _ = start_server(port, tmp / "server.log")
        try:
            figures = measure(port, tmp, args)
        finally:
            stop(process)
        starts = cold_starts(tmp, args.starts)
    print(
        f"\n{'endpoint':<14}{'peak req/s':>12}{'rate req/s':>12}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'alone p50':>11}{'alone p99':>11}"
    )
    for name, f in figures.items():
        print(
            f"{name:<14}{f['peak_rps']:>12.0f}{f['rps']:>12.0f}{f['p50_ms']:>9.2f}{f['p99_ms']:>9.2f}"
            f"{f['alone_p50_ms']:>11.2f}{f['alone_p99_ms']:>11.2f}"
        )
    verdicts = []
    for rows in (1, 100):
        predict, noop = figures[f"predict x{rows}"], figures[f"noop x{rows}"]
        target = P50_RATIO_TARGET if rows == 1 else None
        ratio = predict["alone_p50_ms"] / noop["alone_p50_ms"]
        verdicts.append((f"p50 /predict vs /noop, one client, {rows} record(s)", ratio, target, ""))
        ratio = predict["p50_ms"] / noop["p50_ms"]
        verdicts.append((f"p50 /predict vs /noop, at half peak, {rows} record(s)", ratio, None, ""))
        p99 = figures[f"predict x{rows}"]["p99_ms"]
        verdicts.append((f"p99 /predict at half peak, {rows} record(s)", p99, P99_TARGET_MS, " ms"))
    cold = statistics.median(starts)
    verdicts.append(("cold start to ready (median)", cold, COLD_START_TARGET_S, " s"))
    print()
    for name, value, target, unit in verdicts:
        shown = f"{value:.2f}{unit}"
        print(
            f"{name}: {shown}" if target is None else target_line(name, value, shown, target, unit)
        )
    print(f"cold starts: {', '.join(f'{s:.2f}' for s in starts)} s")
    print(f"load average at end: {load_average()}")
    if args.json:
        write_results("bench_serving", {"figures": figures, "cold_starts": starts})


if __name__ == "__main__":
    main()
