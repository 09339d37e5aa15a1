"""Send outcome branches (`on_sent`, `on_failed`, `on_suppressed`) and `message_status`, on the shipped cart
abandonment journey, unchanged. The senders dispatch for real (local HTTP receivers) between ticks; the
profile waits at the send until an outcome is recorded and leaves at the outcome's time. A `read` status is
written into journeys.message_events by hand, as a provider callback would. A recipient without a phone
is `failed` by the senders (issue 7: no address is a permanent answer); a cap at dispatch suppresses."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

EXAMPLE_JOURNEYS = Path(__file__).resolve().parents[2] / "examples" / "shop" / "journeys"
M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)
T = datetime(2026, 3, 3, 9, 0)  # 09:00 UTC: no quiet hours for the UTC profiles below

ENTERED = T + H  # the cart at T, then an hour without a purchase
DISPATCH_1 = T + H + 4 * M
DISPATCH_2 = T + H + 8 * M


def _project(sc, whatsapp, sms, *, whatsapp_closed: bool = False):
    """The scenario's project with its whatsapp and sms channels pointed at these receivers; with
    `whatsapp_closed`, a whatsapp cap of 0 that only the cap whitelist (`staff`) passes."""
    from dataclasses import replace

    from journey_compiler.config.channels import ChannelsConfig, FrequencyCap, HttpChannel

    caps = {"whatsapp": FrequencyCap(max=0, per=D)} if whatsapp_closed else {}
    channels = ChannelsConfig(
        channels={
            "whatsapp": HttpChannel(kind="whatsapp_cloud", url=whatsapp.url("/wa")),
            "sms": HttpChannel(kind="http_sms", url=sms.url("/sms")),
        },
        frequency_caps=caps,
        cap_whitelist="staff",
    )
    return replace(sc.built.project, channels=channels)


@pytest.fixture(scope="module")
def cart(tmp_path_factory, scenario_builder):
    from channel_senders.loopback import LocalHttpServer
    from channel_senders.outbox import dispatch_project

    # dormant_recall comes along: cart_abandonment is exclusive_with it (it enters nobody here)
    examples = {
        name: (EXAMPLE_JOURNEYS / f"{name}.yaml").read_text()
        for name in ("cart_abandonment", "dormant_recall")
    }
    sc = scenario_builder(tmp_path_factory.mktemp("outcomes"), examples)
    for pid in ("p_read", "p_unread", "p_late_read", "p_nophone", "p_fail", "p_capped"):
        sc.profile(pid)
    sc.sql("update raw.profiles set phone = null where profile_id = 'p_nophone'")
    sc.sql("insert into raw.profile_tags values ('p_fail', 'staff', ?)", [T - D])  # passes the cap
    for pid in ("p_read", "p_unread", "p_late_read", "p_nophone"):
        sc.event(f"{pid}_cart", pid, "add_to_cart", T, value=60.0, sku="SHOE-1")
    for pid in ("p_fail", "p_capped"):
        sc.event(f"{pid}_cart", pid, "add_to_cart", T + 5 * M, value=70.0, sku="SHOE-2")
    record = {}

    sc.tick(T + H + 2 * M)
    record["after_tick_1"] = {s["profile_id"]: (s["node_id"], s["status"]) for s in sc.state()}
    with LocalHttpServer() as wa, LocalHttpServer() as sms:
        dispatch_project(sc.workspace.warehouse, _project(sc, wa, sms), DISPATCH_1)
        record["whatsapp_1"] = list(wa.received)

    sc.tick(T + H + 7 * M)
    record["after_tick_2"] = {s["profile_id"]: (s["node_id"], s["status"]) for s in sc.state()}
    with LocalHttpServer(first_statuses=[400]) as wa, LocalHttpServer() as sms:
        dispatch_project(sc.workspace.warehouse, _project(sc, wa, sms, whatsapp_closed=True), DISPATCH_2)
        record["whatsapp_2"] = list(wa.received)

    def read(pid: str, at: datetime) -> None:
        ((message_id,),) = sc.sql(
            "select message_id from journeys.send_queue where profile_id = ? and node_id = 'remind'", [pid]
        )
        sc.sql(
            "insert into journeys.message_events values (?, 'read', ?, 'provider callback')", [message_id, at]
        )

    read("p_read", T + 3 * H)
    read("p_late_read", DISPATCH_1 + D + M)  # a minute after the 24h window closed
    sc.tick(T + D + 3 * H)
    return sc, record


def test_the_profile_waits_at_the_send_until_an_outcome_is_recorded(cart):
    _, record = cart
    for pid in ("p_read", "p_unread", "p_nophone"):
        assert record["after_tick_1"][pid] == ("remind", "active"), pid
    assert "p_fail" not in record["after_tick_1"]  # its hour had not passed
    assert record["after_tick_2"]["p_fail"] == ("remind", "active")
    assert record["after_tick_2"]["p_read"] == ("was_read", "active")


def test_the_first_dispatch_really_sent_the_whatsapp_messages(cart):
    _, record = cart
    assert (
        len(record["whatsapp_1"]) == 3
    )  # p_read, p_unread, p_late_read; p_nophone has no phone: failed without a request
    assert {r.json()["template"]["name"] for r in record["whatsapp_1"]} == {"cart_reminder"}
    assert [r.status for r in record["whatsapp_2"]] == [400]  # p_fail; p_capped is capped


def test_on_sent_then_message_status_read_takes_then_at_the_read_time(cart):
    sc, _ = cart
    assert sc.moves("p_read") == [
        (None, "remind", None, "entered", ENTERED),
        ("remind", "was_read", "on_sent", "advanced", DISPATCH_1),
        ("was_read", "tag_reader", "then", "advanced", T + 3 * H),
        ("tag_reader", None, "next", "completed", T + 3 * H),
    ]
    tags = sc.rows("journeys.journey_tags", where="profile_id = 'p_read'")
    assert [(t["tag"], t["tagged_at"]) for t in tags] == [("cart_reader", T + 3 * H)]


@pytest.mark.parametrize("pid", ["p_unread", "p_late_read"])
def test_message_status_without_read_takes_else_when_the_window_closes(cart, pid):
    sc, _ = cart
    moves = sc.moves(pid)
    assert moves[1:3] == [
        ("remind", "was_read", "on_sent", "advanced", DISPATCH_1),
        ("was_read", "sms_fallback", "else", "advanced", DISPATCH_1 + D),
    ]
    (fallback,) = [s for s in sc.sends(pid) if s["node_id"] == "sms_fallback"]
    assert (fallback["channel"], fallback["created_at"], fallback["status"]) == (
        "sms",
        DISPATCH_1 + D,
        "queued",
    )


def test_on_failed_leaves_at_the_failure_time(cart):
    sc, _ = cart
    moves = sc.moves("p_fail")
    assert moves[:2] == [
        (None, "remind", None, "entered", T + 5 * M + H),
        ("remind", "sms_fallback", "on_failed", "advanced", DISPATCH_2),
    ]
    statuses = {s["node_id"]: s["status"] for s in sc.sends("p_fail")}
    assert statuses == {"remind": "failed", "sms_fallback": "queued"}


def test_no_address_takes_on_failed_at_the_dispatch(cart):
    sc, _ = cart
    assert sc.moves("p_nophone")[1] == ("remind", "sms_fallback", "on_failed", "advanced", DISPATCH_1)
    ((detail,),) = sc.sql(
        "select e.detail from journeys.message_events e join journeys.send_queue q using (message_id) "
        "where q.profile_id = 'p_nophone' and q.node_id = 'remind' and e.status = 'failed'"
    )
    assert detail == "no address: recipient 'p_nophone' has no phone"


def test_on_suppressed_follows_a_suppression_by_the_senders(cart):
    sc, _ = cart
    moves = sc.moves("p_capped")
    assert moves[1] == ("remind", "sms_fallback", "on_suppressed", "advanced", DISPATCH_2)
    statuses = {s["node_id"]: s["status"] for s in sc.sends("p_capped")}
    assert statuses == {"remind": "suppressed", "sms_fallback": "queued"}
