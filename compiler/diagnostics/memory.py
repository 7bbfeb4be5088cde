"""What a compiled kernel allocates: residuals, temporaries and outputs, next to its inputs.

The kernel materialises an array only where fusion cannot inline a value (outputs, reduction
results, BLAS operands, general reshapes); everything else is recomputed inside loops.  The
report reads the lowering's choice of materialised variables and the allocations in the kernel
source, and sorts them with the forward/backward marking of `passes`:
- residuals: arrays computed by the forward pass that the backward pass reads, directly or
  through values it recomputes inline;
- temporaries: the other arrays the kernel allocates and does not return;
- outputs: arrays the kernel allocates and returns.
"""
import re

from ..ir import Var
from ..lowering.codegen import Lowering
from .draw import short_source
from .passes import passes_of


def _nbytes(var):
    return var.aval.size * var.aval.dtype.itemsize


def format_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


class MemoryReport:
    """Bytes per category (`inputs`, `constants`, `residuals`, `temporaries`, `outputs`) and the
    variables behind them (`residual_vars`, `temporary_vars`, `output_vars`)."""

    def __init__(self, program):
        lowering = Lowering(program)
        source = lowering.lower()
        passes = passes_of(program)
        allocated = set(re.findall(r"^\s*(\w+) = np\.(?:empty|zeros|full|dot)\(", source, re.MULTILINE))
        producer = {v: e for e in program.eqns for v in e.outputs}
        # variables of this program (loop bodies' own per-step values are not counted)
        arrays = {v for v, name in lowering.names.items() if v in producer and name in allocated}
        # outputs are always fresh arrays (copied where they would alias an input or a constant)
        outputs = [v for v in dict.fromkeys(program.outvars) if isinstance(v, Var) and v.aval.shape]
        stored = self._stored_residuals(program, passes, arrays, producer) - set(outputs)
        self.program, self.passes = program, passes
        self.output_vars = outputs
        self.residual_vars = sorted(stored, key=lambda v: -_nbytes(v))
        self.temporary_vars = sorted(arrays - stored - set(outputs), key=lambda v: -_nbytes(v))
        self.recomputed = len({v for v in passes.residuals() if v.aval.shape} - arrays)
        self.producer = producer
        self.inputs = sum(map(_nbytes, program.invars))
        self.constants = sum(map(_nbytes, program.constvars))
        self.residuals = sum(map(_nbytes, self.residual_vars))
        self.temporaries = sum(map(_nbytes, self.temporary_vars))
        self.outputs = sum(map(_nbytes, outputs))

    @staticmethod
    def _stored_residuals(program, passes, arrays, producer):
        """Forward arrays the backward pass reads, directly or through inlined expressions."""
        if not passes.known:
            return set()
        found, seen = set(), set()
        stack = [x for e in program.eqns if not passes.is_forward(e) for x in e.inputs if isinstance(x, Var)]
        while stack:
            v = stack.pop()
            if v in seen:
                continue
            seen.add(v)
            eqn = producer.get(v)
            if eqn is None:                     # an input or a constant
                continue
            if v in arrays:
                if passes.is_forward(eqn):
                    found.add(v)
                continue
            stack.extend(x for x in eqn.inputs if isinstance(x, Var))
        return found

    @property
    def allocated(self):
        """Bytes the kernel allocates per call."""
        return self.residuals + self.temporaries + self.outputs

    def _row(self, name, variables, total, note=""):
        count = f"{len(variables)} array{'s' if len(variables) != 1 else ''}"
        return f"  {name:<12}{count:>10}  {format_bytes(total):>10}{note}"

    def __str__(self):
        inputs = [v for v in self.program.invars if v.aval.shape]
        lines = ["memory of the compiled kernel, per call:",
                 self._row("inputs", inputs, self.inputs)]
        if self.program.constvars:
            lines.append(self._row("constants", self.program.constvars, self.constants))
        if self.passes.known:
            note = "  forward values kept for the backward pass"
            if self.recomputed:
                note += f" ({self.recomputed} more recomputed inline)"
            lines.append(self._row("residuals", self.residual_vars, self.residuals, note))
        lines.append(self._row("temporaries", self.temporary_vars, self.temporaries))
        lines.append(self._row("outputs", self.output_vars, self.outputs))
        ratio = f", {self.allocated / self.inputs:.2f}x the inputs" if self.inputs else ""
        lines.append(f"  allocated: {format_bytes(self.allocated)}{ratio}")
        largest = (self.residual_vars + self.temporary_vars)[:5]
        if largest:
            lines.append("largest:")
            for v in sorted(largest, key=lambda v: -_nbytes(v)):
                kind = "residual" if v in self.residual_vars else "temporary"
                eqn = self.producer[v]
                where = f" at {short_source(eqn.source)}" if eqn.source else ""
                lines.append(f"  {kind:<10} {str(v.aval):<16} {format_bytes(_nbytes(v)):>10}  {eqn.prim.name}{where}")
        return "\n".join(lines)

    def __repr__(self):
        return (f"<MemoryReport inputs={self.inputs} residuals={self.residuals} "
                f"temporaries={self.temporaries} outputs={self.outputs}>")


def memory_report(program):
    return MemoryReport(program)
