"""The example shop on a real DuckDB file, a real SMTP receiver, and the definitions built for them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from dagster import Definitions

from channel_senders.loopback import HOST, LocalHttpServer, LocalSmtpServer
from journey_compiler.demo.shop import generate_shop
from journey_compiler.runtime.workspace import Workspace
from orchestration.defs import build_definitions

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "shop"
SHOP_START = datetime(2026, 6, 1)


@pytest.fixture(scope="session")
def smtp() -> Iterator[LocalSmtpServer]:
    """Set before the project loads: channels.yaml reads SMTP_HOST/SMTP_PORT (and the HTTP channels' URLs
    and tokens) when it is loaded. Every channel is reachable: a channel down fails the send run."""
    with LocalSmtpServer() as server, LocalHttpServer() as http, pytest.MonkeyPatch.context() as env:
        env.setenv("SMTP_HOST", HOST)
        env.setenv("SMTP_PORT", str(server.port))
        for channel in ("SMS", "WHATSAPP", "PUSH"):
            env.setenv(f"{channel}_API_URL", http.url(f"/{channel.lower()}"))
            env.setenv(f"{channel}_API_TOKEN", "test-token")
        env.setenv("CRM_WEBHOOK_URL", http.url("/hook"))
        env.setenv("CRM_WEBHOOK_SECRET", "test-secret")
        yield server


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory, smtp: LocalSmtpServer) -> Workspace:
    """The example journeys over a small demo shop (a week of 300 sign-ups) in a fresh warehouse."""
    workspace = Workspace.resolve(EXAMPLES, tmp_path_factory.mktemp("warehouse") / "shop.duckdb")
    with duckdb.connect(str(workspace.warehouse)) as con:
        generate_shop(con, workspace.load().warehouse, start=SHOP_START, days=7, profiles=300)
    return workspace


@pytest.fixture(scope="session")
def defs(workspace: Workspace) -> Definitions:
    return build_definitions(workspace)
