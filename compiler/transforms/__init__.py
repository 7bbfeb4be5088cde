"""IR-to-IR transforms: forward mode, reverse mode, clean-ups."""
from .jvp import jvp_program  # noqa: F401
from .simplify import cse, dce, simplify  # noqa: F401
from .vjp import vjp_program  # noqa: F401
