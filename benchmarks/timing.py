"""Warm-up, adaptive repeats, median and interquartile range.

A measurement is a number of *samples*; each sample times ``number``
back-to-back calls and divides, so fast functions (microseconds) are timed
in a loop.  ``number`` is chosen so a sample lasts at least
``min_sample_s``, and the number of samples so the whole measurement lasts
about ``target_s`` (clamped to ``[min_repeats, max_repeats]``; a function
slower than ``target_s`` per call gets ``slow_repeats`` samples).  The garbage
collector is disabled while a sample runs, as ``timeit`` does.
"""

import gc
import math
import time
from dataclasses import dataclass, field, asdict
from typing import List

import numpy as np


@dataclass(frozen=True)
class TimingConfig:
    target_s: float = 0.5  # approximate duration of one measurement
    min_sample_s: float = 2e-3  # a sample loops until it lasts this long
    min_repeats: int = 5
    max_repeats: int = 200
    warmup: int = 1  # calls after the first (already made) call
    slow_repeats: int = 3  # repeats when one call alone exceeds target_s
    first_call_timeout_s: float = 300.0  # give up on a contender's first call
    measure_timeout_s: float = 120.0  # give up on a measurement

    def as_dict(self):
        return asdict(self)


DEFAULT = TimingConfig()
QUICK = TimingConfig(target_s=0.02, min_sample_s=2e-4, min_repeats=3, max_repeats=20, warmup=1,
                     slow_repeats=3, first_call_timeout_s=30.0, measure_timeout_s=10.0)


@dataclass
class Measurement:
    median_s: float
    q1_s: float
    q3_s: float
    repeats: int  # number of samples
    number: int  # calls per sample
    samples_s: List[float] = field(default_factory=list)  # per-call time of each sample

    @property
    def iqr_s(self):
        return self.q3_s - self.q1_s


def _sample(fn, number):
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        return time.perf_counter() - t0
    finally:
        if gc_was_enabled:
            gc.enable()


def measure(fn, config=DEFAULT):
    """Time the zero-argument callable ``fn``; per-call seconds."""
    for _ in range(config.warmup):
        fn()
    gc.collect()
    number = 1
    while True:
        t = _sample(fn, number)
        if t >= config.min_sample_s or number >= 10**7:
            break
        grow = config.min_sample_s / t * 1.25 if t > 0 else 100.0
        number = int(min(max(number * 2, math.ceil(number * grow)), number * 100))
    if t > config.target_s:
        repeats = config.slow_repeats
    else:
        repeats = int(min(max(config.target_s / t, config.min_repeats), config.max_repeats))
    samples = [_sample(fn, number) / number for _ in range(repeats)]
    q1, med, q3 = np.percentile(samples, [25, 50, 75])
    return Measurement(float(med), float(q1), float(q3), repeats, number, samples)
