"""Delivery throughput: our dispatcher against the loopback receivers, beside the receivers' own capacity.

    ./run python bench/delivery_throughput.py [--messages 20000] [--big 100000]

Each receiver runs in a process of its own (so it does not share our interpreter). For each channel kind
it prints, measured in this one run on this machine: the receiver's capacity (a minimal client: raw
keep-alive requests, or `smtplib` over as many connections as we use) and our `dispatch_project` over a real
DuckDB outbox with the delivery rules applied (a frequency cap on the channel, so every batch runs the rule
query). Then one dispatch of `--big` messages in a fresh process, with its peak memory beside the peak of
a dispatch a fifth that size: the due messages are read in batches, so the two should be close.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import resource
import smtplib
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from channel_senders.loopback import HOST, LocalHttpServer, LocalSmtpServer  # noqa: E402
from channel_senders.outbox import dispatch_project  # noqa: E402
from journey_compiler.config.channels import ChannelsConfig  # noqa: E402
from journey_compiler.config.project import Project  # noqa: E402
from journey_compiler.config.templates import Template  # noqa: E402
from journey_compiler.config.warehouse import WarehouseConfig  # noqa: E402
from journey_compiler.warehouse.tables import (  # noqa: E402
    MESSAGE_EVENTS,
    MESSAGE_EVENTS_TABLE,
    SEND_QUEUE_VIEW,
    TICK_LOG,
    TICK_LOG_TABLE,
    create_tables,
)

NOW = datetime(2026, 6, 1, 12, 0)
TEMPLATES = {
    "sms_t": Template(channel="sms", body="Hi {{ profile.profile_id }}, your cart misses you."),
    "mail_t": Template(
        channel="email",
        subject="Hello {{ profile.profile_id }}",
        body="Dear {{ recipient.email }},\nwelcome.\n",
    ),
}


def _serve(kind: str, ports: mp.Queue, stop: mp.Event) -> None:
    server = LocalHttpServer(keep=False) if kind == "http" else LocalSmtpServer(keep=False)
    with server:
        ports.put(server.port)
        stop.wait()


def start_receiver(kind: str) -> tuple[int, mp.Event, mp.Process]:
    ports: mp.Queue = mp.Queue()
    stop = mp.Event()
    process = mp.Process(target=_serve, args=(kind, ports, stop), daemon=True)
    process.start()
    return ports.get(timeout=30), stop, process


async def _raw_http(port: int, n: int, connections: int) -> float:
    body = b'{"to":"+4915100000001","text":"Hi p1, your cart misses you."}'
    request = (
        f"POST /sms HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body

    async def client(count: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        for _ in range(count):
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            size = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(size)
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(n // connections) for _ in range(connections)))
    return n / (time.perf_counter() - started)


def raw_smtp(port: int, n: int, connections: int) -> float:
    from concurrent.futures import ThreadPoolExecutor

    data = b"From: a@shop.example\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nwelcome\r\n"

    def client(count: int) -> None:
        with smtplib.SMTP(HOST, port) as smtp:
            for _ in range(count):
                smtp.sendmail("a@shop.example", ["b@example.com"], data)

    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(client, [n // connections] * connections))
    return n / (time.perf_counter() - started)


def make_outbox(warehouse: Path, n: int, channel: str) -> None:
    template = "sms_t" if channel == "sms" else "mail_t"
    with duckdb.connect(str(warehouse)) as con:
        create_tables(con, {MESSAGE_EVENTS_TABLE: MESSAGE_EVENTS, TICK_LOG_TABLE: TICK_LOG})
        con.execute(f"insert into {TICK_LOG_TABLE} values (?, ?, ?, ?)", [NOW, NOW, NOW, NOW])
        con.execute(
            f"""
            create table {SEND_QUEUE_VIEW} as
            select 'm' || lpad(i::varchar, 7, '0') as message_id, 'bench' as journey_id, 'send' as node_id,
                   'e' || i as entry_id, 'p' || i as profile_id, 'p' || i as recipient_id,
                   $channel as channel, $template as template,
                   json_object('profile', json_object('profile_id', 'p' || i),
                               'recipient', json_object('profile_id', 'p' || i, 'phone', '+49151' || i,
                                                        'email', 'p' || i || '@example.com'))::varchar
                       as payload,
                   3 as priority, $due - to_seconds(i % 600) as not_before, $due as tick_at,
                   'queued' as status, false as cap_exempt
            from range($n) t(i)
            """,
            {"channel": channel, "template": template, "due": NOW, "n": n},
        )


def project(root: Path, channel: str, port: int) -> Project:
    config = (
        {"kind": "http_sms", "url": f"http://{HOST}:{port}/sms", "concurrency": 32}
        if channel == "sms"
        else {
            "kind": "smtp",
            "host": HOST,
            "port": port,
            "sender": "Shop <noreply@shop.example>",
            "concurrency": 8,
        }
    )
    channels = ChannelsConfig.model_validate(
        {"channels": {channel: config}, "frequency_caps": {channel: {"max": 5, "per": "1d"}}}
    )
    return Project(root=root, warehouse=WarehouseConfig(), channels=channels, templates=TEMPLATES)


def ours(channel: str, port: int, warehouse: Path, n: int, out: mp.Queue) -> None:
    started = time.perf_counter()
    report = dispatch_project(warehouse, project(warehouse.parent, channel, port), NOW + timedelta(minutes=1))
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.put((report.total("sent"), n / elapsed, peak / 1024))


def run_ours(channel: str, port: int, n: int) -> tuple[int, float, float]:
    """The outbox is built by one process, dispatched by a fresh one: its peak RSS is the dispatch's own."""
    with tempfile.TemporaryDirectory() as folder:
        warehouse = Path(folder) / "bench.duckdb"
        builder = mp.Process(target=make_outbox, args=(warehouse, n, channel))
        builder.start()
        builder.join()
        out: mp.Queue = mp.Queue()
        process = mp.Process(target=ours, args=(channel, port, warehouse, n, out))
        process.start()
        result = out.get()
        process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--big", type=int, default=100000)
    args = parser.parse_args()
    for kind, channel in (("http", "sms"), ("smtp", "email")):
        port, stop, process = start_receiver(kind)
        if kind == "http":
            raw = asyncio.run(_raw_http(port, args.messages, 32))
        else:
            raw = raw_smtp(port, args.messages // 4, 8)
        sent, rate, peak = run_ours(channel, port, args.messages)
        print(
            f"{kind:4}  receiver capacity {raw:8.0f} msgs/s   ours {rate:8.0f} msgs/s "
            f"({sent} sent, rules applied)   ratio {rate / raw:.2f}   peak RSS {peak:.0f} MB"
        )
        if kind == "http" and args.big:
            small = run_ours(channel, port, args.big // 5)
            big = run_ours(channel, port, args.big)
            print(
                f"http  one dispatch of {args.big} messages: {big[1]:.0f} msgs/s, {big[0]} sent, "
                f"peak RSS {big[2]:.0f} MB (a dispatch of {args.big // 5}: {small[2]:.0f} MB)"
            )
        stop.set()
        process.join()


if __name__ == "__main__":
    main()
