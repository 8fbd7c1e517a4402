"""Run the server: `python -m modelgate.serve [--model PATH] [--host H] [--port N]`.

Settings come from `MODELGATE_*` environment variables (see `settings`); the flags override.
On SIGTERM the server stops reporting ready at once, waits `drain_seconds` for the load balancer
to notice, closes its listener, lets requests in flight finish (up to
`graceful_timeout_seconds`), writes out the prediction log's queue and closes its file (up to
`prediction_log_shutdown_seconds`), and exits 0. A second signal forces the exit.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

import uvicorn

from modelgate.serve.app import create_app
from modelgate.serve.settings import Settings
from modelgate.serve.telemetry import configure_logging


class DrainingServer(uvicorn.Server):
    """Uvicorn, but SIGTERM first turns readiness off and shutdown ends with exit code 0.

    Uvicorn re-raises a captured signal after a graceful shutdown, so the process would die of
    SIGTERM (status 143) even when every request finished; an orchestrator reads that as a crash.
    """

    def __init__(self, config: uvicorn.Config, on_signal: Callable[[], None], drain: float):
        super().__init__(config)
        self.on_signal = on_signal
        self.drain = drain

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit or getattr(self, "_draining", False):
            self.force_exit = True
            return
        self._draining = True
        self.on_signal()
        if self.drain > 0:
            threading.Timer(self.drain, self._stop).start()
        else:
            self._stop()

    def _stop(self) -> None:
        self.should_exit = True


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if v is not None}
    settings = Settings(**overrides)
    configure_logging(settings.log_level)
    app = create_app(settings)

    def stop_being_ready() -> None:
        app.state.server.draining = True
        app.state.metrics.ready.set(0)

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_config=None,
        access_log=False,  # the app's own middleware logs each request, as JSON
        server_header=False,
        timeout_graceful_shutdown=int(settings.graceful_timeout_seconds),
    )
    DrainingServer(config, stop_being_ready, settings.drain_seconds).run()


if __name__ == "__main__":
    main()
