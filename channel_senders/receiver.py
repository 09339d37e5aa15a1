"""`journeys receive`: the HTTP server providers call back with delivery statuses.

`POST /callbacks/<channel>` (e.g. `/callbacks/email`, `/callbacks/whatsapp`), signed with the channel's
`callback_secret_env` (see `channel_senders.callbacks`). Answers: 200 recorded (or already known), 202
accepted while the warehouse is busy (spooled, see `callback_store`), 400 malformed body, 401 bad or missing
signature, 403 callbacks not enabled for the channel, 404 unknown channel or message id; nothing is recorded
on any 4xx. A background thread writes the spool whenever the warehouse is free.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from channel_senders.callback_store import CallbackStore
from channel_senders.callbacks import MalformedCallback, parse_callbacks, shape_for
from channel_senders.webhook import SIGNATURE_HEADER, signature_matches
from journey_compiler.config.channels import ChannelsConfig

PATH_PREFIX = "/callbacks/"
_PROVIDER_SIGNATURE = {"whatsapp_cloud": "X-Hub-Signature-256"}
"""Providers that sign with a header of their own (same scheme: `sha256=<hex HMAC-SHA256 of the body>`)."""
FLUSH_EVERY = 0.5


class StatusReceiver:
    """`with StatusReceiver(...) as receiver:` serves on a thread; `serve_forever()` in the foreground."""

    def __init__(self, warehouse: Path, channels: ChannelsConfig, host: str = "127.0.0.1", port: int = 0):
        self.store = CallbackStore(warehouse)
        self._channels = channels
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, channel: str) -> str:
        host = self._server.server_address[0]
        return f"http://{host}:{self.port}{PATH_PREFIX}{channel}"

    def answer(self, path: str, headers: Any, body: bytes) -> tuple[int, str]:
        if not path.startswith(PATH_PREFIX):
            return 404, f"POST to {PATH_PREFIX}<channel>"
        name = path.removeprefix(PATH_PREFIX).strip("/")
        config = self._channels.channels.get(name)  # type: ignore[call-overload]
        if config is None:
            return 404, f"unknown channel {name!r}"
        if config.callback_secret_env is None:
            return 403, f"callbacks are not enabled for {name}: set callback_secret_env in channels.yaml"
        secret = os.environ.get(config.callback_secret_env)
        if not secret:
            return 503, f"the callback secret {config.callback_secret_env} is not set in the environment"
        header = headers.get(SIGNATURE_HEADER) or headers.get(_PROVIDER_SIGNATURE.get(config.kind, ""))
        if not signature_matches(secret, body, header):
            return 401, f"bad or missing signature: {SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of the body>"
        try:
            callbacks = parse_callbacks(shape_for(config.kind), body)
        except MalformedCallback as error:
            return 400, str(error)
        if not callbacks:
            return 200, "nothing to record"
        return self.store.accept(callbacks)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, detail = receiver.answer(self.path, self.headers, body)
                answer = json.dumps({"ok": status < 300, "detail": detail}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: what matters is in message_events."""

        return Handler

    def _flush_spool(self) -> None:
        while not self._stop.wait(FLUSH_EVERY):
            self.store.flush()

    def serve_forever(self) -> None:
        flusher = threading.Thread(target=self._flush_spool, daemon=True)
        flusher.start()
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._stop.set()
            flusher.join()
            self.store.flush()
            self._server.server_close()

    def __enter__(self) -> StatusReceiver:
        thread = threading.Thread(target=self.serve_forever, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        for thread in self._threads:
            thread.join()
