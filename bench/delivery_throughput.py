"""Delivery throughput: our dispatcher against the loopback receivers, beside the receivers' own capacity.

    ./run python bench/delivery_throughput.py [--messages 20000] [--big 100000] [--pipeline 16]

Each receiver runs in a process of its own (so it does not share our interpreter). Per receiver it prints,
measured in this one run on this machine: the receiver's capacity (a minimal client: raw keep-alive HTTP
requests, `smtplib` for aiosmtpd, raw pipelined SMTP for our sink) and our `dispatch_project` over a real
DuckDB outbox with the delivery rules applied (a frequency cap on the channel, so every batch runs the rule
query), with the CPU time it used per message and the load average of the machine. HTTP runs twice: one
request per connection at a time, and pipelined (`pipeline` in channels.yaml). SMTP runs against aiosmtpd
(the reference server the tests use, which does not offer PIPELINING) and against `SmtpSink` (ours, which
does, and only counts). Then one dispatch of `--big` messages in a fresh process, with its peak memory
beside the peak of a dispatch a fifth that size: the due messages are read in batches, so the two should be
close.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import resource
import smtplib
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from channel_senders.loopback import HOST, LocalHttpServer, LocalSmtpServer, SmtpSink  # noqa: E402
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


RECEIVERS = {
    "http": lambda: LocalHttpServer(keep=False),
    "aiosmtpd": lambda: LocalSmtpServer(keep=False),
    "sink": SmtpSink,
}


RAW_EMAIL = b"From: a@shop.example\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nwelcome\r\n"


def _serve(kind: str, ports: mp.Queue, stop: mp.Event) -> None:
    with RECEIVERS[kind]() as server:
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

    data = RAW_EMAIL

    def client(count: int) -> None:
        with smtplib.SMTP(HOST, port) as smtp:
            for _ in range(count):
                smtp.sendmail("a@shop.example", ["b@example.com"], data)

    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(client, [n // connections] * connections))
    return n / (time.perf_counter() - started)


async def _raw_smtp_pipelined(port: int, n: int, connections: int) -> float:
    """The sink's capacity: each email's commands and content in one write, then its four replies."""
    email = b"MAIL FROM:<a@shop.example>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n" + RAW_EMAIL + b".\r\n"

    async def client(count: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        await reader.readline()
        writer.write(b"EHLO bench\r\n")
        while (await reader.readline())[3:4] == b"-":
            pass
        for _ in range(count):
            writer.write(email)
            for _ in range(4):
                await reader.readline()
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(n // connections) for _ in range(connections)))
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


def project(root: Path, channel: str, port: int, pipeline: int = 1) -> Project:
    config = (
        {"kind": "http_sms", "url": f"http://{HOST}:{port}/sms", "concurrency": 32, "pipeline": pipeline}
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


def ours(channel: str, port: int, pipeline: int, warehouse: Path, n: int, out: mp.Queue) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    report = dispatch_project(
        warehouse, project(warehouse.parent, channel, port, pipeline), NOW + timedelta(minutes=1)
    )
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.put(Run(report.total("sent"), n / elapsed, cpu / n * 1e6, peak / 1024))


class Run(NamedTuple):
    """One dispatch in a fresh process."""

    sent: int
    rate: float
    """Messages per second."""
    cpu_us: float
    """CPU time of the dispatching process (all its threads) per message, in µs."""
    peak_mb: float


def run_ours(channel: str, port: int, n: int, pipeline: int = 1) -> Run:
    """The outbox is built by one process, dispatched by a fresh one: its peak RSS is the dispatch's own."""
    with tempfile.TemporaryDirectory() as folder:
        warehouse = Path(folder) / "bench.duckdb"
        builder = mp.Process(target=make_outbox, args=(warehouse, n, channel))
        builder.start()
        builder.join()
        out: mp.Queue = mp.Queue()
        process = mp.Process(target=ours, args=(channel, port, pipeline, warehouse, n, out))
        process.start()
        result = out.get()
        process.join()
    return result


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def line(what: str, raw: float, run: Run) -> str:
    return (
        f"{what:26} receiver {raw:7.0f} msgs/s   ours {run.rate:7.0f} msgs/s ({run.sent} sent, rules "
        f"applied, {run.cpu_us:4.0f} µs CPU/msg, peak RSS {run.peak_mb:.0f} MB)   "
        f"ratio {run.rate / raw:.2f}   {load()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--big", type=int, default=100000)
    parser.add_argument("--pipeline", type=int, default=16, help="HTTP requests per connection at once")
    args = parser.parse_args()
    n = args.messages
    print(f"{os.cpu_count()} cores, {load()} at the start")
    port, stop, process = start_receiver("http")
    raw = asyncio.run(_raw_http(port, n, 32))
    print(line("http, 32 connections", raw, run_ours("sms", port, n)))
    print(line(f"http, pipeline {args.pipeline}", raw, run_ours("sms", port, n, args.pipeline)))
    if args.big:
        small = run_ours("sms", port, args.big // 5, args.pipeline)
        big = run_ours("sms", port, args.big, args.pipeline)
        print(
            f"http  one dispatch of {args.big} messages (pipeline {args.pipeline}): {big.rate:.0f} msgs/s, "
            f"{big.sent} sent, peak RSS {big.peak_mb:.0f} MB (a dispatch of {args.big // 5}: "
            f"{small.peak_mb:.0f} MB)   "
            f"{load()}"
        )
    stop.set()
    process.join()
    for kind in ("aiosmtpd", "sink"):
        port, stop, process = start_receiver(kind)
        if kind == "aiosmtpd":
            raw, count = raw_smtp(port, n // 4, 8), n // 4
        else:
            raw, count = asyncio.run(_raw_smtp_pipelined(port, n, 8)), n
        print(line(f"smtp, {kind}, 8 connections", raw, run_ours("email", port, count)))
        stop.set()
        process.join()


if __name__ == "__main__":
    main()
