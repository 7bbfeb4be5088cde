"""Index expressions of generated loops: `scale * base + offset`, with `base` a loop variable, a
temporary or an arbitrary integer expression (None for a constant).

Keeping them affine lets `x[1:][i - 1]` and `x[i]` be recognised as one load.  A loop variable
also carries the range it runs over, so range tests and clamps (from pad, concatenate) are
decided statically where the range allows; where it does not, the points at which the answer
changes are recorded, and the loop can be split there (index-set splitting), leaving an interior
loop without tests.
"""


class Ix:
    __slots__ = ("base", "scale", "offset", "bounds", "recorder")

    def __init__(self, base=None, scale=1, offset=0, bounds=None, recorder=None):
        self.base, self.scale, self.offset = base, (scale if base is not None else 0), offset
        self.bounds = bounds          # (lo, hi) inclusive range of `base`, if known
        self.recorder = recorder      # callback(base, breakpoint) for splittable loop variables

    @staticmethod
    def const(value):
        return Ix(None, 0, int(value))

    def _derive(self, scale, offset):
        return Ix(self.base, scale, offset, self.bounds, self.recorder)

    def shifted(self, c):
        return self._derive(self.scale, self.offset + int(c))

    def scaled(self, s):
        return self._derive(self.scale * int(s), self.offset * int(s))

    def value_range(self):
        if self.base is None:
            return self.offset, self.offset
        if self.bounds is None:
            return None
        a, b = self.scale * self.bounds[0] + self.offset, self.scale * self.bounds[1] + self.offset
        return min(a, b), max(a, b)

    def _record_window(self, n):
        """Tell the recorder where `0 <= self < n` changes truth along the loop variable."""
        if self.recorder is None or self.scale not in (1, -1):
            return
        if self.scale == 1:
            points = (-self.offset, n - self.offset)
        else:
            points = (self.offset + 1, self.offset - n + 1)
        for p in points:
            self.recorder(self.base, p)

    def in_range(self, n):
        """`0 <= self < n`: None if always true, False if never, else a condition string."""
        r = self.value_range()
        if r is not None and r[0] >= 0 and r[1] < n:
            return None
        if r is not None and (r[1] < 0 or r[0] >= n):
            return False
        self._record_window(n)
        return f"(0 <= {self} < {n})"

    def clamped(self, n):
        """The index clipped into [0, n): reads stay in bounds where a guard discards the value."""
        r = self.value_range()
        if n == 1:
            return Ix.const(0)
        if r is not None and r[0] >= 0 and r[1] < n:
            return self
        if r is not None and r[1] < 0:
            return Ix.const(0)
        if r is not None and r[0] > n - 1:
            return Ix.const(n - 1)
        self._record_window(n)
        return Ix(f"min(max({self}, 0), {n - 1})")

    def floordiv(self, k):
        if k == 1:
            return self
        if self.base is None:
            return Ix.const(self.offset // k)
        return Ix(f"({self}) // {k}")

    def __str__(self):
        if self.base is None:
            return str(self.offset)
        term = self.base if self.scale == 1 else f"-{self.base}" if self.scale == -1 else f"{self.scale} * {self.base}"
        if self.offset > 0:
            return f"{term} + {self.offset}"
        if self.offset < 0:
            return f"{term} - {-self.offset}"
        return term

    def _key(self):
        return (self.base, self.scale, self.offset)

    def __eq__(self, other):
        return isinstance(other, Ix) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return f"Ix({self})"
