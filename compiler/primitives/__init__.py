"""The closed primitive set. Importing this package registers every primitive and its rules."""
from . import elementwise, linalg, reductions, structural  # noqa: F401  (registration)
from . import control  # noqa: F401,E402  (loops and conditionals)
from .core import (Primitive, UndefinedPrimal, aval_of, is_float, is_undefined, jvp_rules,  # noqa: F401
                   lowering_rules, nondiff, registry, shape_of, transpose_rules)
