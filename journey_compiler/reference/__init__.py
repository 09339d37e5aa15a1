"""A per-profile reference interpreter of the tick semantics (spec section 3): the oracle the SQL tick is
compared with. `interpret(project, world, ticks)` -> the spec section 4 rows."""

from journey_compiler.reference.interpreter import interpret
from journey_compiler.reference.world import ReferenceOutput, World

__all__ = ["ReferenceOutput", "World", "interpret"]
