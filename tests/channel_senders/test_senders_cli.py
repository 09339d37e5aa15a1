"""`journeys send` as a user runs it: a per-channel table, exit 2 naming a channel that is down, one clear
line (and no file left behind) when there is no warehouse."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb

from channel_senders.loopback import LocalHttpServer

JOURNEYS = str(Path(sys.executable).parent / "journeys")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "shop"
NOW = datetime(2026, 6, 1, 12, 0)


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


def _shop(root: Path, url: str) -> tuple[Path, Path]:
    journeys = root / "journeys"
    (journeys / "templates").mkdir(parents=True)
    (journeys / "channels.yaml").write_text(f"channels:\n  push: {{kind: http_push, url: '{url}'}}\n")
    (journeys / "templates" / "nudge.yaml").write_text("channel: push\ntitle: Hi\nbody: Hello\n")
    warehouse = root / "shop.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema journeys")
        con.execute(
            "create table journeys.message_events "
            "(message_id varchar, status varchar, status_at timestamp, detail varchar)"
        )
        con.execute(
            "create table journeys.tick_log "
            "(tick_at timestamp, watermark timestamp, started_at timestamp, finished_at timestamp)"
        )
        con.execute("insert into journeys.tick_log values (?, ?, ?, ?)", [NOW, NOW, NOW, NOW])
        con.execute(
            """
            create table journeys.send_queue as
            select 'm' || i as message_id, 'j' as journey_id, 'n' as node_id, 'p' || i as recipient_id,
                   'push' as channel, 'nudge' as template,
                   json_object('recipient', json_object('profile_id', 'p' || i))::varchar as payload,
                   3 as priority, $now as not_before, $now as tick_at, 'queued' as status, false as cap_exempt
            from range(4) t(i)
            """,
            {"now": NOW},
        )
    return journeys, warehouse


def test_a_channel_down_exits_2_and_says_which(tmp_path: Path):
    with LocalHttpServer() as http:
        url = http.url("/push")  # closed again below: the provider is down
    journeys, warehouse = _shop(tmp_path, url)

    down = send("--dir", str(journeys), "--warehouse", str(warehouse), "--at", "2026-06-01T12:05:00")

    assert down.returncode == 2
    assert "deferred" in down.stdout and "push" in down.stdout
    assert (
        "error: push: messages deferred, they stay due and are retried: channel 'push' is down" in down.stderr
    )
    assert "Traceback" not in down.stdout + down.stderr

    with LocalHttpServer(port=int(url.rsplit(":", 1)[1].split("/")[0])) as http:
        back = send("--dir", str(journeys), "--warehouse", str(warehouse), "--at", "2026-06-01T14:00:00")
    assert back.returncode == 0, back.stderr
    assert len(http.received) == 4
