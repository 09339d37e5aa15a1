"""What each hop on the way to a node requires, for the kinds the CLI scenario does not walk: a split that
follows every matching branch, an A/B race, a send's outcome branches, a message status."""

from __future__ import annotations

from pydantic import TypeAdapter

from journey_compiler.config import journey as cfg
from journey_compiler.estimate.paths import Hop, Judgement, judge, own_branches
from journey_compiler.ir import Step

NODE = TypeAdapter(cfg.Node)


def step(node_id: str, spec: dict) -> Step:
    node = NODE.validate_python(spec)
    return Step(node_id, cfg.kind_of(node), node, node.successors(), {})


def test_all_matches_asks_each_branch_alone_and_else_none():
    split = step(
        "by_rule",
        {
            "segment_split": {
                "mode": "all_matches",
                "branches": [{"segment": "vip", "to": "a"}, {"tag": "staff", "to": "b"}],
                "else": "c",
            }
        },
    )
    branches = split.node_as(cfg.SegmentSplitNode).segment_split.branches

    second = judge(split, "branch_2")
    nothing = judge(split, "else")

    assert (second.holds, second.fails) == ((branches[1],), ())
    assert (nothing.holds, nothing.fails) == ((), tuple(branches))


def test_first_match_excludes_the_branches_before():
    split = step(
        "by_rule",
        {
            "segment_split": {
                "branches": [{"segment": "vip", "to": "a"}, {"tag": "staff", "to": "b"}],
                "else": "c",
            }
        },
    )
    branches = split.node_as(cfg.SegmentSplitNode).segment_split.branches

    second = judge(split, "branch_2")

    assert (second.holds, second.fails) == ((branches[1],), (branches[0],))


def test_a_race_variant_gets_its_share_of_the_test_traffic():
    race = step(
        "race",
        {
            "ab_race": {
                "test_share": 30,
                "variants": [{"id": "a", "to": "x"}, {"id": "b", "to": "y"}, {"id": "c", "to": "z"}],
                "sample_size": 100,
            }
        },
    )

    assert judge(race, "b") == Judgement(Hop("race", "b"), share=0.1)
    assert [hop.branch for hop in own_branches(race)] == ["a", "b", "c"]


def test_what_waits_for_the_future_is_not_judged_and_has_no_branch_rows():
    send = step("hello", {"send": {"channel": "push", "template": "t"}, "next": "n", "on_failed": "f"})
    status = step(
        "was_read",
        {"message_status": {"of": "hello", "is": ["read"], "within": "1d"}, "then": "a", "else": "b"},
    )

    plain = step("hello", {"send": {"channel": "push", "template": "t"}, "next": "n"})
    only_sent = step("hello", {"send": {"channel": "push", "template": "t"}, "on_sent": "n"})

    assert judge(plain, "next").unjudged is None
    assert judge(send, "on_failed").unjudged == "hello[on_failed]: waits for the message's outcome"
    assert judge(send, "next").unjudged == "hello[next]: waits for the message's outcome"  # sent, suppressed
    assert judge(only_sent, "on_sent").unjudged == "hello[on_sent]: waits for the message's outcome"
    assert judge(status, "then").unjudged == "was_read[then]: waits for the status of 'hello'"
    assert own_branches(send) == [] and own_branches(status) == []
