"""The VPA recommender's decaying histograms (recommender/util), pure.

Exponential buckets (each 5 % wider than the last) hold sample weights; a sample's weight doubles
every half-life after a reference time instead of old samples decaying, so adding is O(1), and the
reference moves forward (renormalising every bucket) before the factor can overflow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

DAY = 24 * 3600.0
HALF_LIFE = DAY                  # both histograms
MIN_SAMPLE_WEIGHT = 0.1
EPSILON = 0.001 * MIN_SAMPLE_WEIGHT  # a bucket lighter than this is empty
MAX_DECAY_EXPONENT = 100         # renormalise before 2**exponent overflows


@dataclass(frozen=True)
class BucketLayout:
    """Exponential buckets: bucket 0 is [0, first); bucket n is `ratio` times wider than n-1.

    The relative error is the same 5 % for 50m and for 50 cores, which a linear layout cannot do.
    """

    max_value: float
    first: float
    ratio: float

    @cached_property
    def count(self) -> int:
        return math.ceil(math.log(self.max_value * (self.ratio - 1) / self.first + 1, self.ratio)) + 1

    def find(self, value: float) -> int:
        if value < self.first:
            return 0
        bucket = int(math.log(value * (self.ratio - 1) / self.first + 1, self.ratio))
        return min(bucket, self.count - 1)

    def start(self, bucket: int) -> float:
        if bucket == 0:
            return 0.0
        return self.first * (self.ratio ** bucket - 1) / (self.ratio - 1)


# 1m first bucket (upstream since the 0.01 -> 0.001 change): ~5 % resolution at 200m, not ~10 %.
CPU_BUCKETS = BucketLayout(1000.0, 0.001, 1.05)    # cores
MEMORY_BUCKETS = BucketLayout(1e12, 1e7, 1.05)     # bytes


class DecayingHistogram:
    """Weights grow by 2**(age / half-life) for newer samples, which is the same as old samples
    losing half their weight per half-life: only relative weights matter for percentiles."""

    def __init__(self, layout: BucketLayout, half_life: float = HALF_LIFE) -> None:
        self.layout = layout
        self.half_life = half_life
        self.weights = [0.0] * layout.count
        self.total = 0.0
        self.reference: float | None = None

    def _decay(self, t: float) -> float:
        if self.reference is None:
            self.reference = round(t / self.half_life) * self.half_life
        elif t > self.reference + MAX_DECAY_EXPONENT * self.half_life:
            self._shift_reference(t)
        return 2.0 ** ((t - self.reference) / self.half_life)

    def _shift_reference(self, t: float) -> None:
        assert self.reference is not None
        new_reference = round(t / self.half_life) * self.half_life
        factor = 2.0 ** round((self.reference - new_reference) / self.half_life)
        self.weights = [w * factor for w in self.weights]
        self.total *= factor
        self.reference = new_reference

    def add(self, value: float, weight: float, t: float) -> None:
        w = weight * self._decay(t)
        self.weights[self.layout.find(value)] += w
        self.total += w

    def subtract(self, value: float, weight: float, t: float) -> None:
        bucket = self.layout.find(value)
        w = weight * self._decay(t)
        if w > self.weights[bucket] - EPSILON:
            w = self.weights[bucket]
        self.weights[bucket] -= w
        self.total -= w

    def is_empty(self) -> bool:
        return not any(w >= EPSILON for w in self.weights)

    def percentile(self, p: float) -> float:
        """The end of the bucket where the cumulative weight reaches p (0.0 when empty)."""
        used = [i for i, w in enumerate(self.weights) if w >= EPSILON]
        if not used:
            return 0.0
        threshold = p * self.total
        partial = 0.0
        bucket = used[0]
        while bucket < used[-1]:
            partial += self.weights[bucket]
            if partial >= threshold:
                break
            bucket += 1
        if bucket < self.layout.count - 1:
            return self.layout.start(bucket + 1)
        return self.layout.start(bucket)
