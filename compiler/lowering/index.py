"""Index expressions of generated loops: `scale * base + offset`, with `base` a loop variable, a
temporary or an arbitrary integer expression (None for a constant).  Keeping them affine lets
`x[1:][i - 1]` and `x[i]` be recognised as one load."""


class Ix:
    __slots__ = ("base", "scale", "offset")

    def __init__(self, base=None, scale=1, offset=0):
        self.base, self.scale, self.offset = base, (scale if base is not None else 0), offset

    @staticmethod
    def const(value):
        return Ix(None, 0, int(value))

    def shifted(self, c):
        return Ix(self.base, self.scale, self.offset + int(c))

    def scaled(self, s):
        return Ix(self.base, self.scale * int(s), self.offset * int(s))

    def clamped(self, n):
        """The index clipped into [0, n): reads stay in bounds where a guard discards the value."""
        if n == 1:
            return Ix.const(0)
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
