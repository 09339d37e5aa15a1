"""Validation (spec section 2): the examples validate unchanged; a broken file gets an error naming the file,
the YAML path and the reason, and nothing is compiled from an invalid directory."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from journey_compiler.config.project import load_project
from journey_compiler.errors import ConfigError, ConfigErrors
from journey_compiler.runtime.workspace import Workspace, build_dbt_project

REPO = Path(__file__).resolve().parents[2]
MAIN_EXAMPLES = REPO / "examples" / "shop"
SHARED_EXAMPLES = Path("/work/shared/examples")
WELCOME = "journeys/welcome_series.yaml"
DORMANT = "journeys/dormant_recall.yaml"


def _example_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml"))


# ---------------------------------------------------------------- the examples are valid


@pytest.mark.parametrize(
    "root",
    [
        pytest.param(MAIN_EXAMPLES, id="main-examples-shop"),
        pytest.param(
            SHARED_EXAMPLES,
            id="shared-examples",
            marks=pytest.mark.skipif(not SHARED_EXAMPLES.is_dir(), reason="no /work/shared/examples here"),
        ),
    ],
)
def test_examples_validate(root: Path):
    project = load_project(root)
    files = _example_files(root)
    journeys = {p.stem for p in files if p.parent.name == "journeys"}
    templates = {p.stem for p in files if p.parent.name == "templates"}
    assert set(project.journeys) == journeys
    assert set(project.templates) == templates
    assert {"members", "dormant_90d", "vip", "unsubscribed_sms", "staff", "cars"} <= set(project.segments)
    assert {"add_to_cart_3d", "orders_7d", "gmv_7d", "add_to_cart_rate", "sms_cost"} <= set(project.metrics)
    # every file of the directory was read: the loaded models account for each journey/template file
    assert len(journeys) == 5 and len(templates) == 11


def test_the_two_example_directories_agree():
    if not SHARED_EXAMPLES.is_dir():
        pytest.skip("no /work/shared/examples here")
    shared = {p.relative_to(SHARED_EXAMPLES): p.read_text() for p in _example_files(SHARED_EXAMPLES)}
    main = {p.relative_to(MAIN_EXAMPLES): p.read_text() for p in _example_files(MAIN_EXAMPLES)}
    assert main == shared, "examples/shop must ship the shared examples unchanged"


# ---------------------------------------------------------------- broken copies


@dataclass(frozen=True)
class Break:
    file: str
    old: str
    new: str
    path: str
    """Expected YAML path: exact, or a regex when it starts with '^'."""
    reason: tuple[str, ...]
    """Fragments the reason must contain (case-insensitive)."""
    line_of: str | None = None
    """Text whose line in the broken file the error must name."""
    files: tuple[str, ...] = ()
    """Other files the error may name instead (e.g. two journeys with one id)."""


CASES = {
    "all-matches-rejoin": Break(
        DORMANT,
        "mode: first_match\n      branches:\n        - {segment: vip, to: call_task}",
        "mode: all_matches\n      branches:\n        - {segment: vip, to: recall_sms}",
        "nodes.by_value.segment_split.branches[1].to",
        ("all_matches branches 1 and 2", "'recall_sms'", "must not rejoin"),
        "to: wait_weekend",
    ),
    "each-of-one-event": Break(
        WELCOME,
        "did: {event: signup}\n    mode: cumulative",
        "each: [{event: signup}]\n    mode: each_of",
        "entry.event.each",
        ("at least two", "cumulative"),
    ),
    "unknown-event-did-each": Break(
        WELCOME,
        "did: {events: [activate], times: 1}",
        "did_each: [{event: activate}, {event: activat}]",
        "nodes.activated.event_check.did_each[1]",
        ("unknown event", "activat"),
    ),
    "unknown-node-next": Break(
        WELCOME,
        "next: wait_a_day",
        "next: wait_a_dya",
        "nodes.welcome.next",
        ("unknown node", "wait_a_dya"),
        "next: wait_a_dya",
    ),
    "unknown-node-ab-branch": Break(
        WELCOME,
        "{to: nudge_push, percent: 50}",
        "{to: nudge_psh, percent: 50}",
        "nodes.nudge_split.ab_split[0].to",
        ("unknown node", "nudge_psh"),
        "nudge_psh",
    ),
    "unknown-node-start": Break(
        WELCOME, "start: welcome", "start: welcom", "start", ("unknown node", "welcom"), "start: welcom"
    ),
    "unknown-node-timeout": Break(
        "journeys/renewal_reminder.yaml",
        "timeout: remind_again",
        "timeout: remind_agian",
        "nodes.wait_for_renewal.timeout",
        ("unknown node", "remind_agian"),
        "remind_agian",
    ),
    "left-segment-in-audience": Break(
        DORMANT,
        "audience: {segment: dormant_90d}",
        "audience: {left_segment: dormant_90d}",
        "entry.audience",
        ("have not entered", "left_segment: dormant_90d", "path's entry"),
    ),
    "left-segment-through-a-blacklist": Break(
        "segments/segments.yaml",
        "did: {event: unsubscribe, where: \"channel = 'sms'\"}",
        "left_segment: vip",
        "^nodes\\.[a-z_]+\\.send\\.blacklist",
        ("blacklist is asked of profiles that have not entered", "left_segment: vip"),
        files=("journeys/cart_abandonment.yaml", "journeys/dormant_recall.yaml"),
    ),
    "outcome-branches-on-pick-all": Break(
        "journeys/renewal_reminder.yaml",
        "non_trading_day: postpone\n    next: wait_for_renewal",
        "non_trading_day: postpone\n    on_sent: wait_for_renewal",
        "nodes.tell_owner.send.subject.pick",
        ("pick: all", "several messages", "on_sent"),
    ),
    "cycle": Break(
        WELCOME,
        "    add_tag: activated_in_welcome\n",
        "    add_tag: activated_in_welcome\n    next: welcome\n",
        r"^nodes\.(welcome|wait_a_day|activated|tag_active)$",
        ("cycle", "tag_active", "welcome"),
    ),
    "cycle-through-wait-for-event": Break(
        "journeys/renewal_reminder.yaml",
        "timeout: remind_again",
        "timeout: next_trading_day",
        r"^nodes\.\w+$",
        ("cycle",),
    ),
    "ab-weights-90": Break(
        WELCOME,
        "{to: nudge_email, percent: 50}",
        "{to: nudge_email, percent: 40}",
        "nodes.nudge_split.ab_split",
        ("100",),
    ),
    "ab-weights-110": Break(
        WELCOME,
        "{to: nudge_email, percent: 50}",
        "{to: nudge_email, percent: 60}",
        "nodes.nudge_split.ab_split",
        ("100",),
    ),
    "unknown-event-trigger": Break(
        WELCOME,
        "did: {event: signup}",
        "did: {event: sign_up}",
        "entry.event.did",
        ("unknown event", "sign_up"),
        "sign_up",
    ),
    "unknown-event-check": Break(
        WELCOME,
        "did: {events: [activate], times: 1}",
        "did: {events: [activated], times: 1}",
        "nodes.activated.event_check.did",
        ("unknown event", "activated"),
    ),
    "unknown-event-goal": Break(
        WELCOME,
        "did: {event: activate}",
        "did: {event: activ}",
        "goals[0].did",
        ("unknown event", "activ"),
        "activ}",
    ),
    "unknown-event-segment": Break(
        "segments/segments.yaml",
        "did_not: {event: purchase, within_last: 90d}",
        "did_not: {event: purchased, within_last: 90d}",
        "segments[1].rule.all[1].did_not",
        ("unknown event", "purchased"),
    ),
    "unknown-event-property": Break(
        WELCOME,
        "where: \"channel = 'email'\"",
        "where: \"chanel = 'email'\"",
        "exit_when[0].did.where",
        ("unknown column", "chanel"),
        "chanel",
    ),
    "unknown-attribute-entry": Break(
        WELCOME,
        "  frequency: {max: 1}",
        "  frequency: {max: 1}\n  where: \"cty = 'Shanghai'\"",
        "entry.where",
        ("unknown column", "cty"),
        "cty =",
    ),
    "unknown-attribute-segment": Break(
        "segments/segments.yaml",
        "lifetime_value >= 1000",
        "lifetime_vaule >= 1000",
        "segments[2].rule.any[0].where",
        ("unknown column", "lifetime_vaule"),
        "lifetime_vaule",
    ),
    "unknown-attribute-split": Break(
        DORMANT,
        "where: \"city = 'Shanghai'\"",
        "where: \"town = 'Shanghai'\"",
        "nodes.by_value.segment_split.branches[1].where",
        ("unknown column", "town"),
    ),
    "bad-duration-wait": Break(
        WELCOME,
        "wait: {for: 1d}",
        "wait: {for: 1 day}",
        "nodes.wait_a_day.wait.for",
        ("duration", "1 day"),
        "1 day",
    ),
    "bad-duration-unit": Break(
        WELCOME, "within: 3d", "within: 3w", "nodes.activated.event_check.within", ("duration", "3w"), "3w"
    ),
    "bad-duration-zero": Break(WELCOME, "within: 7d", "within: 0d", "goals[0].within", ("duration", "0d")),
    "unknown-timezone": Break(
        WELCOME,
        "timezone: Asia/Shanghai",
        "timezone: Asia/Shangai",
        "timezone",
        ("timezone", "Asia/Shangai"),
        "Asia/Shangai",
    ),
    "two-journeys-one-id": Break(
        DORMANT, "id: dormant_recall", "id: welcome_series", "id", ("welcome_series",), files=(WELCOME,)
    ),
    "duplicate-yaml-key": Break(
        WELCOME,
        "    next: wait_a_day\n",
        "    next: wait_a_day\n    next: activated\n",
        "nodes.welcome.next",
        ("duplicate", "next"),
        "next: activated",
    ),
    "duplicate-yaml-key-channels": Break(
        "channels.yaml",
        "  sms:\n    kind: http_sms",
        "  email:\n    kind: http_sms",
        "channels.email",
        ("duplicate", "email"),
    ),
    "unknown-key-root": Break(WELCOME, "exit_when:", "exit_whn:", "exit_whn", ("unknown key", "exit_whn")),
    "unknown-key-entry": Break(
        WELCOME,
        "  frequency: {max: 1}",
        "  frequncy: {max: 1}",
        "entry.frequncy",
        ("unknown key", "frequncy"),
        "frequncy",
    ),
    "unknown-key-wait-spec": Break(
        WELCOME, "wait: {for: 1d}", "wait: {fr: 1d}", "nodes.wait_a_day.wait.fr", ("unknown key", "fr")
    ),
    "where-subquery": Break(
        WELCOME,
        "where: \"channel = 'email'\"",
        'where: "channel IN (SELECT channel FROM raw.events)"',
        "exit_when[0].did.where",
        ("not allowed",),
        "SELECT channel",
    ),
    "where-semicolon": Break(
        WELCOME,
        "where: \"channel = 'email'\"",
        "where: \"channel = 'email'; DROP TABLE raw.events\"",
        "exit_when[0].did.where",
        ("not allowed",),
        "DROP TABLE",
    ),
    "where-function": Break(
        WELCOME,
        "where: \"channel = 'email'\"",
        "where: \"read_csv('/etc/passwd') = channel\"",
        "exit_when[0].did.where",
        ("not allowed",),
        "read_csv",
    ),
    "where-hash-function": Break(
        WELCOME,
        "where: \"channel = 'email'\"",
        "where: \"md5(channel) = 'x'\"",
        "exit_when[0].did.where",
        ("not allowed",),
    ),
    "where-table-prefix": Break(
        WELCOME,
        "where: \"channel = 'email'\"",
        "where: \"e.channel = 'email'\"",
        "exit_when[0].did.where",
        ("e.channel",),
    ),
    "template-wrong-channel": Break(
        WELCOME,
        "send: {channel: email, template: welcome_email}",
        "send: {channel: sms, template: welcome_email}",
        "nodes.welcome.send.template",
        ("welcome_email", "email", "sms"),
        "template: welcome_email",
    ),
    "unknown-template": Break(
        WELCOME,
        "template: welcome_email}",
        "template: welcome_mail}",
        "nodes.welcome.send.template",
        ("unknown template", "welcome_mail"),
    ),
    "unknown-segment-audience": Break(
        DORMANT,
        "audience: {segment: dormant_90d}",
        "audience: {segment: dormant_91d}",
        "entry.audience.segment",
        ("unknown segment", "dormant_91d"),
        "dormant_91d",
    ),
    "unknown-segment-in-segment": Break(
        "segments/segments.yaml",
        "- segment: members",
        "- segment: memberz",
        "segments[1].rule.all[0].segment",
        ("unknown segment", "memberz"),
        "memberz",
    ),
    "unknown-segment-blacklist": Break(
        DORMANT,
        "blacklist: unsubscribed_sms",
        "blacklist: unsubscribed_mms",
        "nodes.recall_sms.send.blacklist",
        ("unknown segment", "unsubscribed_mms"),
    ),
    "template-syntax": Break(
        "templates/welcome_email.yaml", "{{ profile.email }}", "{{ profile.email }", "body", ("template",)
    ),
}

# Found wrong in an earlier revision (the path/reason did not name what is missing, or named the wrong key);
# kept as regressions.
CASES |= {
    "missing-else-event-check": Break(
        WELCOME, "    else: nudge_split\n", "", r"^nodes\.activated(\.else)?$", ("else",)
    ),
    "missing-else-segment-split": Break(
        DORMANT, "      else: recall_sms\n", "", r"^nodes\.by_value\.segment_split(\.else)?$", ("else",)
    ),
    "missing-required-key": Break(
        WELCOME,
        'active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}\n',
        "",
        r"^(active)?$",
        ("active",),
    ),
    "unknown-key-in-node": Break(
        WELCOME,
        "    next: wait_a_day\n",
        "    nxt: wait_a_day\n",
        "nodes.welcome.nxt",
        ("unknown key", "nxt"),
        "nxt:",
    ),
}


def _broken_copy(tmp_path: Path, case: Break) -> Path:
    root = tmp_path / "broken"
    shutil.copytree(MAIN_EXAMPLES, root)
    target = root / case.file
    text = target.read_text()
    assert text.count(case.old) == 1, f"the break must apply exactly once: {case.old!r} in {case.file}"
    target.write_text(text.replace(case.old, case.new))
    return root


def _line_of(root: Path, case: Break) -> int | None:
    if case.line_of is None:
        return None
    lines = (root / case.file).read_text().splitlines()
    return next(i + 1 for i, line in enumerate(lines) if case.line_of in line)


def _matches(err: ConfigError, case: Break) -> bool:
    files = (case.file, *case.files)
    if not any(Path(err.file).as_posix().endswith(f) for f in files):
        return False
    path = re.sub(r" \(line \d+\)$", "", err.yaml_path)
    path_ok = re.fullmatch(case.path, path) if case.path.startswith("^") else path == case.path
    return bool(path_ok) and all(f.lower() in err.reason.lower() for f in case.reason)


def _check(tmp_path: Path, case: Break) -> None:
    root = _broken_copy(tmp_path, case)
    with pytest.raises(ConfigErrors) as info:
        load_project(root)
    errors = info.value.errors
    assert errors, "ConfigErrors must carry at least one error"
    matching = [e for e in errors if _matches(e, case)]
    assert matching, (
        "no error names "
        + f"{case.file} / {case.path} / {case.reason}; got:\n"
        + "\n".join(f"  {e.file} | {e.yaml_path} | {e.reason}" for e in errors)
    )
    err = matching[0]
    assert str(err).startswith(f"{err.file}: "), str(err)
    assert err.reason in str(err)
    line = _line_of(root, case)
    if line is not None:
        assert f"(line {line})" in err.yaml_path, f"expected line {line}: {err}"
        assert f"(line {line})" in str(info.value)


@pytest.mark.parametrize("name", list(CASES))
def test_broken_copy_is_rejected_with_file_path_and_reason(tmp_path, name):
    _check(tmp_path, CASES[name])


def test_every_error_is_reported_not_just_the_first(tmp_path):
    root = tmp_path / "two_broken"
    shutil.copytree(MAIN_EXAMPLES, root)
    welcome = root / WELCOME
    welcome.write_text(welcome.read_text().replace("wait: {for: 1d}", "wait: {for: 1x}"))
    dormant = root / DORMANT
    dormant.write_text(dormant.read_text().replace("timezone: Asia/Shanghai", "timezone: Nowhere/Town"))
    with pytest.raises(ConfigErrors) as info:
        load_project(root)
    where = {(Path(e.file).name, re.sub(r" \(line \d+\)$", "", e.yaml_path)) for e in info.value.errors}
    assert ("welcome_series.yaml", "nodes.wait_a_day.wait.for") in where
    assert ("dormant_recall.yaml", "timezone") in where


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    root = tmp_path / "bad_yaml"
    shutil.copytree(MAIN_EXAMPLES, root)
    (root / WELCOME).write_text((root / WELCOME).read_text().replace("next: wait_a_day", "next: [wait_a_day"))
    with pytest.raises(ConfigErrors) as info:
        load_project(root)
    (err,) = info.value.errors
    assert Path(err.file).as_posix().endswith(WELCOME)
    assert re.search(r"line \d+", err.yaml_path)
    assert "yaml" in err.reason.lower()


# ------------------------------------------------------------ nothing is compiled from an invalid directory


def test_nothing_is_compiled_from_an_invalid_directory(tmp_path):
    root = _broken_copy(tmp_path, CASES["cycle"])
    workspace = Workspace.resolve(root, tmp_path / "wh.duckdb")
    with pytest.raises(ConfigErrors):
        build_dbt_project(workspace)
    assert not workspace.build_dir.exists()
    assert not workspace.warehouse.exists()


def test_a_broken_edit_leaves_the_previous_build_untouched(tmp_path):
    root = tmp_path / "edited"
    shutil.copytree(MAIN_EXAMPLES, root)
    workspace = Workspace.resolve(root, tmp_path / "wh.duckdb")
    built = build_dbt_project(workspace)
    assert "welcome_series" in built.compiled.journeys
    before = {p: p.read_bytes() for p in workspace.build_dir.rglob("*") if p.is_file()}
    # a valid-looking change that would alter the SQL, plus an error elsewhere in the same file
    welcome = root / WELCOME
    welcome.write_text(
        welcome.read_text()
        .replace("wait: {for: 1d}", "wait: {for: 2d}")
        .replace("timezone: Asia/Shanghai", "timezone: Asia/Shangai")
    )
    with pytest.raises(ConfigErrors):
        build_dbt_project(workspace)
    after = {p: p.read_bytes() for p in workspace.build_dir.rglob("*") if p.is_file()}
    assert after == before


def test_unsupported_features_are_reported_as_skipped_not_dropped(tmp_path):
    workspace = Workspace.resolve(MAIN_EXAMPLES, tmp_path / "wh.duckdb")
    built = build_dbt_project(workspace)
    assert set(built.compiled.journeys) | set(built.compiled.skipped) == set(built.project.journeys)
    assert not set(built.compiled.journeys) & set(built.compiled.skipped)
    assert "welcome_series" in built.compiled.journeys
    for journey_id, reason in built.compiled.skipped.items():
        assert reason, journey_id
        assert not (workspace.build_dir / "models" / "journeys" / f"jrn_{journey_id}.sql").exists()


def test_all_matches_branches_on_separate_sub_graphs_validate(tmp_path):
    """The rejoin rule refuses only shared nodes: branches to `call_task` and `wait_weekend -> recall_sms`
    share none (the `else` to `recall_sms` is never taken with a branch)."""
    root = tmp_path / "fan_out"
    shutil.copytree(MAIN_EXAMPLES, root)
    dormant = root / DORMANT
    dormant.write_text(dormant.read_text().replace("mode: first_match", "mode: all_matches"))
    project = load_project(root)
    assert project.journeys["dormant_recall"].nodes["by_value"].segment_split.mode == "all_matches"
