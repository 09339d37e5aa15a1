"""kill -9 at several moments of a real dispatch (a subprocess), then a re-run: every message ends with
exactly one final status, none is lost, and any message the receiver saw twice carried the same
idempotency key and the same body both times."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from channel_senders.loopback import LocalHttpServer

MESSAGES = 3000

DISPATCH = textwrap.dedent(
    """
    import sys
    from datetime import datetime
    from pathlib import Path
    from channel_senders.outbox import dispatch_project
    from journey_compiler.config.channels import ChannelsConfig
    from journey_compiler.config.project import Project
    from journey_compiler.config.templates import Template
    from journey_compiler.config.warehouse import WarehouseConfig

    warehouse, url = Path(sys.argv[1]), sys.argv[2]
    channels = ChannelsConfig.model_validate(
        {"channels": {"push": {"kind": "http_push", "url": url, "concurrency": 8}}}
    )
    templates = {"nudge": Template(channel="push", title="Hi", body="Hello {{ profile.profile_id }}")}
    project = Project(warehouse.parent, WarehouseConfig(), channels, templates=templates)
    report = dispatch_project(warehouse, project, datetime(2024, 11, 11, 9, 1))
    print(report)
    """
)


@pytest.mark.parametrize("kill_after", [1, 700, 2600])
def test_kill_9_mid_dispatch_then_rerun(tmp_path: Path, outbox_file, kill_after: int) -> None:
    warehouse = outbox_file(tmp_path / "crash.duckdb", MESSAGES)
    script = tmp_path / "dispatch.py"
    script.write_text(DISPATCH)
    with LocalHttpServer() as http:
        victim = subprocess.Popen([sys.executable, str(script), str(warehouse), http.url("/push")])
        while http.count < kill_after and victim.poll() is None:
            time.sleep(0.001)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        rerun = subprocess.run(
            [sys.executable, str(script), str(warehouse), http.url("/push")], capture_output=True, text=True
        )
        assert rerun.returncode == 0, rerun.stderr
        seen: dict[str, set[bytes]] = defaultdict(set)
        for request in http.received:
            seen[request.headers["Idempotency-Key"]].add(request.body)

    with duckdb.connect(str(warehouse)) as con:
        finals = con.execute(
            "select message_id, count(*), min(status) from journeys.message_events "
            "where status not in ('sending', 'deferred') group by all"
        ).fetchall()
    assert len(finals) == MESSAGES, "every message has a final status"
    assert {count for _, count, _ in finals} == {1}, "exactly one"
    assert {status for _, _, status in finals} == {"sent"}
    assert len(seen) == MESSAGES, "every message reached the receiver"
    assert all(len(bodies) == 1 for bodies in seen.values()), "a repeat is the same request"
