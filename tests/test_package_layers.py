"""The packages depend in one direction (README "Layout"), checked by reading every module's imports.

journey_compiler core (config, warehouse, errors, compiler, runtime)   <- the base
channel_senders                                                        <- may use the core
journey_compiler.cli, journey_compiler.demo, orchestration             <- on top, may use both
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP = ("journey_compiler.cli", "journey_compiler.demo", "orchestration")


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


MODULES = sorted(
    path for folder in ("journey_compiler", "channel_senders") for path in (ROOT / folder).rglob("*.py")
)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path: Path) -> None:
    module = _module(path)
    if _within(module, TOP):
        return
    imported = _imports(path)
    if module.startswith("channel_senders"):
        upward = {name for name in imported if _within(name, TOP) or name.startswith("dagster")}
    else:  # the core: nothing above it
        upward = {name for name in imported if _within(name, (*TOP, "channel_senders"))}
    assert not upward, f"{module} imports {sorted(upward)}, a layer above it (see README Layout)"
