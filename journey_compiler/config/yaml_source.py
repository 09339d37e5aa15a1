"""YAML reading that remembers where every value came from, so errors can name file, path and line."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from journey_compiler.errors import ConfigError

YamlPath = tuple[str | int, ...]


def format_path(path: YamlPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass
class YamlDocument:
    """Parsed YAML plus the line of every path in it."""

    file: str
    data: Any
    lines: dict[YamlPath, int] = field(default_factory=dict)

    def error(self, path: YamlPath, reason: str) -> ConfigError:
        line = self.line_of(path)
        where = format_path(path) + (f" (line {line})" if line else "")
        return ConfigError(self.file, where, reason)

    def line_of(self, path: YamlPath) -> int | None:
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                return self.lines[path[:cut]]
        return None

    def real_path(self, loc: tuple[Any, ...]) -> YamlPath:
        """Drop the parts of a pydantic error location that are not keys in the file (union tags)."""
        node, out = self.data, []
        for part in loc:
            in_dict = isinstance(node, dict) and part in node
            in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
            if in_dict or in_list:
                node = node[part]
                out.append(part)
            elif node is None or not isinstance(node, dict | list) or isinstance(part, int):
                out.append(part)
                node = None
        return tuple(out)


class _Loader(yaml.SafeLoader):
    pass


def _build(loader: _Loader, node: yaml.Node, path: YamlPath, doc: YamlDocument) -> Any:
    doc.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in out:
                first = doc.lines.get((*path, key))
                where = f"{format_path((*path, key))} (line {key_node.start_mark.line + 1})"
                raise ConfigError(doc.file, where, f"duplicate key {key!r} (first at line {first})")
            out[key] = _build(loader, value_node, (*path, key), doc)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*path, i), doc) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def read_yaml(file: Path, display: str) -> YamlDocument:
    doc = YamlDocument(display, None)
    try:
        text = file.read_text(encoding="utf-8")
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            doc.data = {} if root is None else _build(loader, root, (), doc)
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(display, where, f"not valid YAML: {getattr(err, 'problem', err)}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(display, "", f"cannot read: {err}") from None
    return doc


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(doc: YamlDocument, environ: dict[str, str] | None = None) -> None:
    """Replace `${VAR}` / `${VAR:-default}` in string values; unset without a default is an error."""
    env = os.environ if environ is None else environ

    def expand(value: Any, path: YamlPath) -> Any:
        if isinstance(value, dict):
            return {k: expand(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [expand(v, (*path, i)) for i, v in enumerate(value)]
        if not isinstance(value, str):
            return value

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is None:
                raise doc.error(path, f"environment variable {name} is not set and has no default")
            return default

        return _ENV_REF.sub(substitute, value)

    doc.data = expand(doc.data, ())
