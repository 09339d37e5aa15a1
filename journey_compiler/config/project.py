"""Load a whole journeys directory into typed models, collecting every error with file, path and line."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from journey_compiler.config.channels import ChannelsConfig
from journey_compiler.config.journey import NODE_KINDS, Journey
from journey_compiler.config.rules import Rule, rule_parts
from journey_compiler.config.segments import Metric, MetricsFile, Segment, SegmentsFile
from journey_compiler.config.templates import Template
from journey_compiler.config.warehouse import WarehouseConfig
from journey_compiler.config.yaml_source import YamlDocument, YamlPath, expand_env, read_yaml
from journey_compiler.errors import ConfigError, ConfigErrors

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Origin:
    """Where a model came from: its document and the path of the model inside it."""

    doc: YamlDocument
    path: YamlPath = ()

    def error(self, subpath: YamlPath, reason: str) -> ConfigError:
        return self.doc.error((*self.path, *subpath), reason)


@dataclass
class Project:
    root: Path
    warehouse: WarehouseConfig
    channels: ChannelsConfig
    journeys: dict[str, Journey] = field(default_factory=dict)
    segments: dict[str, Segment] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)
    templates: dict[str, Template] = field(default_factory=dict)
    origins: dict[tuple[str, str], Origin] = field(default_factory=dict)

    def origin(self, kind: str, ident: str) -> Origin:
        return self.origins[(kind, ident)]

    def rule_parts(self, rule: Rule) -> Iterator[Rule]:
        """`config.rules.rule_parts` through this project's segments."""
        return rule_parts(rule, {name: segment.rule for name, segment in self.segments.items()})


_UNION_TAGS = {
    "nodes": frozenset(NODE_KINDS),
    "channels": frozenset(("smtp", "http_sms", "whatsapp_cloud", "http_push", "webhook")),
}
"""Where pydantic puts a discriminated union's tag into an error location: `<key>.<id>.<tag>...`."""


def _without_union_tag(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(loc) >= 3 and loc[2] in _UNION_TAGS.get(loc[0], ()):
        return (*loc[:2], *loc[3:])
    return loc


def _validate(model: type[M], doc: YamlDocument, errors: list[ConfigError]) -> M | None:
    try:
        return model.model_validate(doc.data)
    except ValidationError as err:
        for problem in err.errors():
            loc = _without_union_tag(tuple(problem["loc"]))
            message = problem["msg"].removeprefix("Value error, ")
            if problem["type"] in ("extra_forbidden", "missing"):
                # name the key itself; a missing key has no line, so it is reported at its parent's
                key = loc[-1]
                path = (*doc.real_path(loc[:-1]), key)
                message = (
                    f"unknown key {key!r}" if problem["type"] == "extra_forbidden" else f"missing {key!r}"
                )
            else:
                path = doc.real_path(loc)
            errors.append(doc.error(path, message))
        return None


def _yaml_files(folder: Path) -> list[Path]:
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []


def load_project(root: Path | str) -> Project:
    """Parse and validate every file; raise ConfigErrors listing all problems, or return the project."""
    from journey_compiler.validate import validate_project

    root = Path(root)
    if not root.is_dir():
        raise ConfigErrors([ConfigError(str(root), "", "not a directory")])
    errors: list[ConfigError] = []

    def read(path: Path) -> YamlDocument | None:
        try:
            doc = read_yaml(path, str(path.relative_to(root.parent) if root.parent != path else path))
            if path.name in ("channels.yaml", "channels.yml"):
                expand_env(doc)
            return doc
        except ConfigError as err:
            errors.append(err)
            return None

    def single(name: str, model: type[M]) -> tuple[M | None, YamlDocument | None]:
        path = root / name
        if not path.exists():
            return model.model_validate({}), None
        doc = read(path)
        return (_validate(model, doc, errors) if doc else None), doc

    warehouse, _ = single("warehouse.yaml", WarehouseConfig)
    channels, _ = single("channels.yaml", ChannelsConfig)
    project = Project(root, warehouse or WarehouseConfig(), channels or ChannelsConfig())

    def register(kind: str, ident: str, model: Any, origin: Origin, id_path: YamlPath) -> None:
        table: dict[str, Any] = getattr(project, kind)
        if ident in table:
            first = project.origins[(kind, ident)].doc.file
            errors.append(origin.error(id_path, f"two {kind} with id {ident!r} (the other is in {first})"))
            return
        table[ident] = model
        project.origins[(kind, ident)] = origin

    for path in _yaml_files(root / "journeys"):
        if (doc := read(path)) and (journey := _validate(Journey, doc, errors)):
            register("journeys", journey.id, journey, Origin(doc), ("id",))
    for path in _yaml_files(root / "segments"):
        if (doc := read(path)) and (segments := _validate(SegmentsFile, doc, errors)):
            for i, segment in enumerate(segments.segments):
                register("segments", segment.id, segment, Origin(doc, ("segments", i)), ("id",))
    for path in _yaml_files(root / "metrics"):
        if (doc := read(path)) and (metrics := _validate(MetricsFile, doc, errors)):
            for i, metric in enumerate(metrics.metrics):
                register("metrics", metric.id, metric, Origin(doc, ("metrics", i)), ("id",))
    for path in _yaml_files(root / "templates"):
        if (doc := read(path)) and (template := _validate(Template, doc, errors)):
            register("templates", path.stem, template, Origin(doc), ())

    if not errors:
        errors.extend(validate_project(project))
    if errors:
        raise ConfigErrors(errors)
    return project
