"""Compiled models remembered by what they were compiled from.

Compiling the journeys costs 2-3 s of every tick process (bench/README.md), the largest fixed cost after
dbt's start-up, and a scheduled tick compiles the same directory as the tick before it. The key is what the
compiler reads (the validated config, the files the models name as their source, the target) and the
compiler's own code, so an edit to either compiles again; nothing else decides what a model says.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from functools import cache
from importlib.metadata import version
from pathlib import Path

from journey_compiler.config.project import Project
from journey_compiler.render import CompiledProject, compile_project

CACHE_FILE = ".compiled.json"
"""In the build folder, beside the models it describes."""
_REMEMBERED: OrderedDict[str, CompiledProject] = OrderedDict()
"""This process's compiles by key: a test session or a backtest compiles each directory once."""
_KEEP = 8
_STORED: dict[Path, str] = {}
"""The key this process last found or wrote in each cache file, so a remembered compile reads no file."""


def compiled_project(project: Project, target: str, build_dir: Path) -> CompiledProject:
    """`compile_project(project, target)`, from the build folder or this process's memory when the key
    matches; a missing, unreadable or stale cache file only means compiling again (and writing it)."""
    key, path = compile_key(project, target), build_dir / CACHE_FILE
    compiled = _REMEMBERED.get(key)
    if compiled is None and (compiled := _read(path, key)) is not None:
        _STORED[path] = key
    if compiled is None:
        compiled = compile_project(project, target)
    if _STORED.get(path) != key:
        _write(path, key, compiled)
        _STORED[path] = key
    _REMEMBERED[key] = compiled
    _REMEMBERED.move_to_end(key)
    while len(_REMEMBERED) > _KEEP:
        _REMEMBERED.popitem(last=False)
    return compiled


def compile_key(project: Project, target: str) -> str:
    digest = hashlib.sha256(f"{_compiler_digest()}\0{target}\0".encode())
    digest.update(project.warehouse.model_dump_json().encode())
    digest.update(project.channels.model_dump_json().encode())
    for kind in ("journeys", "segments", "metrics", "templates"):
        for ident, model in sorted(getattr(project, kind).items()):
            digest.update(f"\0{kind}\0{ident}\0".encode() + model.model_dump_json().encode())
    for (kind, ident), origin in sorted(project.origins.items()):
        digest.update(f"\0{kind}\0{ident}\0{origin.doc.file}".encode())
    return digest.hexdigest()


@cache
def _compiler_digest() -> str:
    """The compiler's source files and the sqlglot release that renders them."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(version("sqlglot").encode())
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _read(path: Path, key: str) -> CompiledProject | None:
    try:
        stored = json.loads(path.read_text())
        if stored["key"] != key:
            return None
        return CompiledProject(dict(stored["files"]), tuple(stored["journeys"]), dict(stored["skipped"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(path: Path, key: str, compiled: CompiledProject) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    stored = {
        "key": key,
        "files": compiled.files,
        "journeys": list(compiled.journeys),
        "skipped": compiled.skipped,
    }
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(stored))
    temporary.replace(path)
