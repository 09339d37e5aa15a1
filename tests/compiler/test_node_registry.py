"""Every node kind the config accepts has exactly one tick handler: the registry is the only list."""

from typing import get_args

from journey_compiler.config import journey as cfg
from journey_compiler.sqlgen.tick.nodes import HANDLERS


def test_every_config_node_kind_has_a_handler() -> None:
    assert set(HANDLERS) == set(cfg.NODE_KINDS.values())


def test_the_typed_node_union_lists_every_kind() -> None:
    assert set(get_args(cfg.AnyNode)) == set(cfg.NODE_KINDS.values())
