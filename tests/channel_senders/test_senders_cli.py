"""`journeys send` as a user runs it: a per-channel table, exit 2 naming a channel that is down, one clear
line (and no file left behind) when there is no warehouse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from channel_senders.loopback import LocalHttpServer

JOURNEYS = str(Path(sys.executable).parent / "journeys")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "shop"


def send(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([JOURNEYS, "send", *args], capture_output=True, text=True)


def test_no_warehouse_is_one_clear_line_and_creates_nothing(tmp_path: Path):
    missing = tmp_path / "nowhere.duckdb"

    done = send("--dir", str(EXAMPLES), "--warehouse", str(missing))

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: no warehouse at {missing}: run `journeys init` and a tick first"
    ]
    assert list(tmp_path.iterdir()) == []


def _journeys(root: Path, url: str) -> Path:
    journeys = root / "journeys"
    (journeys / "templates").mkdir(parents=True)
    (journeys / "channels.yaml").write_text(f"channels:\n  push: {{kind: http_push, url: '{url}'}}\n")
    (journeys / "templates" / "nudge.yaml").write_text("channel: push\ntitle: Hi\nbody: Hello\n")
    return journeys


def test_a_channel_down_exits_2_and_says_which(tmp_path: Path, outbox_file):
    with LocalHttpServer() as http:
        url = http.url("/push")  # closed again below: the provider is down
    journeys = _journeys(tmp_path, url)
    warehouse = outbox_file(tmp_path / "shop.duckdb", 4)

    down = send("--dir", str(journeys), "--warehouse", str(warehouse), "--at", "2024-11-11T09:05:00")

    assert down.returncode == 2
    assert "deferred" in down.stdout and "push" in down.stdout
    assert (
        "error: push: messages deferred, they stay due and are retried: channel 'push' is down" in down.stderr
    )
    assert "Traceback" not in down.stdout + down.stderr

    with LocalHttpServer(port=int(url.rsplit(":", 1)[1].split("/")[0])) as http:
        back = send("--dir", str(journeys), "--warehouse", str(warehouse), "--at", "2024-11-11T11:00:00")
    assert back.returncode == 0, back.stderr
    assert len(http.received) == 4


def test_a_busy_warehouse_says_who_holds_it_and_sends_nothing(tmp_path: Path, outbox_file):
    from journey_compiler.runtime.lock import exclusive

    with LocalHttpServer() as http:
        journeys = _journeys(tmp_path, http.url("/push"))
        warehouse = outbox_file(tmp_path / "shop.duckdb", 2)
        with exclusive(warehouse, "a long tick (test)"):
            busy = subprocess.run(
                [JOURNEYS, "send", "--dir", str(journeys), "--warehouse", str(warehouse)],
                capture_output=True,
                text=True,
                env={**os.environ, "JOURNEYS_LOCK_TIMEOUT": "0.5"},
            )

    assert busy.returncode == 1
    (error,) = [line for line in busy.stderr.splitlines() if line.startswith("error:")]
    assert "held by a long tick (test)" in error and "Retry when it has finished" in error
    assert "Traceback" not in busy.stdout + busy.stderr
    assert http.received == []
