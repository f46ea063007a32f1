"""Poisson input patterns and the protocol of the assembly-association experiment (Pokorny et al. 2020).

Pokorny, Ison, Rao, Legenstein, Papadimitriou & Maass (2020), "STDP forms associations between memory
traces in networks of spiking neurons", Cereb Cortex 30(3):952, doi:10.1093/cercor/bhz140.

Inputs
------
``n_channels`` Poisson input channels fire at ``rate_noise`` at all times. Pattern ``P`` is a set of
``n_active`` channels that, while ``P`` is presented, fire at ``rate_pattern`` instead (the patterns here
use disjoint channel sets, so that any overlap of their assemblies is made by the network). A
presentation lasts ``pattern_duration`` (100 ms); a combined presentation shows two patterns at once.

Protocol (phases in order; durations are parameters, the paper's values in :data:`POKORNY2020_PROTOCOL`)
----------------------------------------------------------------------------------------------------------
1. ``noise``: background only, plasticity on;
2. ``encoding``: the three patterns in random order, each presentation followed by a background gap drawn
   uniformly from ``gap_range``, plasticity on;
3. ``noise``;
4. ``test_before``: every pattern ``n_test`` times in random order with gaps, plasticity off (assemblies
   before the association are measured here), and as many presentations of each combined pattern of
   :data:`TEST_COMBINED`: the associated pair ``A+B`` and the never co-presented control pair ``A+C``
   (the code for the combination, and what a combination evokes without being learned);
5. ``association``: the combined pattern of the associated pair (A and B), ``n_association`` times with
   gaps, plasticity on;
6. ``noise``;
7. ``test_after``: as phase 4 (assemblies after the association).

The test phases with frozen weights are this module's choice (the paper measures responses during its
phases); they keep the measurement from changing what it measures.

The schedule is rendered on a grid of ``bin_dt`` (10 ms) as 0/1 activity per pattern and a 0/1
plasticity gate (:func:`render_schedule`), to be fed to Brian2 as TimedArrays.
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

PATTERNS = ("A", "B", "C")
ASSOCIATED = ("A", "B")  # the pair that is co-presented
CONTROL = ("A", "C")  # a pair that is never co-presented
#: Combined patterns shown in the test phases next to A, B and C: the associated and the control pair.
TEST_COMBINED = ("+".join(ASSOCIATED), "+".join(CONTROL))
TEST_PATTERNS = PATTERNS + TEST_COMBINED

#: Durations in seconds. Pokorny et al. (2020): 250 s noise, 250 s encoding with 100 ms patterns and
#: 0.5-3 s gaps, 250 s noise, 20 combined presentations (~36 s), 250 s noise.
POKORNY2020_PROTOCOL = {
    "noise_1": 250.0,  # s, initial background
    "encoding": 250.0,  # s, encoding of the three patterns
    "noise_2": 250.0,  # s, background after encoding
    "n_test": 20,  # presentations per pattern in each test phase
    "n_association": 20,  # combined presentations
    "noise_3": 250.0,  # s, background after association
    "pattern_duration": 0.1,  # s, one presentation
    "gap_range": (0.5, 3.0),  # s, background between presentations (encoding, association)
    "test_gap_range": (0.4, 0.8),  # s, background between test presentations (a choice: > the 100 ms baseline)
}


@dataclass
class InputPatterns:
    """Channel sets and rates of the input patterns.

    Parameters
    ----------
    n_channels : int
        Input channels (200 in Pokorny et al.).
    n_active : int
        Channels of one pattern.
    rate_noise, rate_pattern : float
        Rates in Hz of background and of a pattern's channels while it is shown.
    seed : int
    """

    n_channels: int = 200
    n_active: int = 40
    rate_noise: float = 3.0
    rate_pattern: float = 40.0
    seed: int = 0
    members: dict = field(init=False)

    def __post_init__(self):
        if not isinstance(self.n_channels, (int, np.integer)) or self.n_channels < 1:
            raise ValueError(f"'n_channels' must be a positive integer, got {self.n_channels!r}")
        if not isinstance(self.n_active, (int, np.integer)) or not 1 <= self.n_active * len(PATTERNS) <= \
                self.n_channels:
            raise ValueError(f"'n_active' must be a positive integer with {len(PATTERNS)} * n_active <= n_channels, "
                             f"got {self.n_active!r}")
        if not (self.rate_noise >= 0 and self.rate_pattern > self.rate_noise):
            raise ValueError(f"need 0 <= 'rate_noise' < 'rate_pattern', got {self.rate_noise!r}, "
                             f"{self.rate_pattern!r}")
        perm = np.random.default_rng(self.seed).permutation(self.n_channels)
        self.members = {p: np.sort(perm[k * self.n_active:(k + 1) * self.n_active]) for k, p in enumerate(PATTERNS)}

    def membership(self):
        """0/1 array (n_patterns, n_channels): which channels belong to which pattern."""
        out = np.zeros((len(PATTERNS), self.n_channels))
        for k, p in enumerate(PATTERNS):
            out[k, self.members[p]] = 1.0
        return out

    def rates(self, active):
        """Rates (Hz) of all channels while the patterns in ``active`` are shown."""
        r = np.full(self.n_channels, float(self.rate_noise))
        for p in active:
            r[self.members[p]] = self.rate_pattern
        return r


def block_length(n_presentations, pattern_duration, gap_range):
    """Fixed length of a block of presentations: ``n (duration + max gap) + max gap`` seconds.

    Blocks have a length that does not depend on the seed, so that one compiled network (whose run
    length is fixed at build time) serves every seed.
    """
    return n_presentations * (pattern_duration + gap_range[1]) + gap_range[1]


def _presentations(names, n_each, rng, gap_range, pattern_duration, start, shuffle=True):
    order = np.repeat(np.arange(len(names)), n_each)
    if shuffle:
        rng.shuffle(order)
    rows, t = [], start
    for k in order:
        t += rng.uniform(*gap_range)
        rows.append((t, names[k]))
        t += pattern_duration
    return rows, start + block_length(len(order), pattern_duration, gap_range)


def protocol_schedule(protocol=None, seed=0):
    """Phases and presentations of the protocol.

    Parameters
    ----------
    protocol : dict
        Overrides of :data:`POKORNY2020_PROTOCOL`.
    seed : int
        Seeds the order of patterns and the gaps.

    Returns
    -------
    phases : pandas.DataFrame
        ``phase, start, end, plastic`` (seconds).
    presentations : pandas.DataFrame
        ``phase, onset, pattern`` with ``pattern`` one of A, B, C or a combined pattern ``"A+B"``, ``"A+C"``
        (the association shows ``"A+B"``; the test phases show every pattern of :data:`TEST_PATTERNS`).
    """
    p = {**POKORNY2020_PROTOCOL, **(protocol or {})}
    unknown = set(p) - set(POKORNY2020_PROTOCOL)
    if unknown:
        raise ValueError(f"unknown protocol entries {sorted(unknown)}; allowed: {', '.join(POKORNY2020_PROTOCOL)}")
    for name in ("noise_1", "encoding", "noise_2", "noise_3", "pattern_duration"):
        if not p[name] >= 0:
            raise ValueError(f"'{name}' must be a non-negative duration in seconds, got {p[name]!r}")
    if not p["pattern_duration"] > 0:
        raise ValueError("'pattern_duration' must be positive")
    for name in ("gap_range", "test_gap_range"):
        if len(p[name]) != 2 or not 0 <= p[name][0] <= p[name][1]:
            raise ValueError(f"'{name}' must be (low, high) with 0 <= low <= high, got {p[name]!r}")
    lo, hi = p["gap_range"]
    for name in ("n_test", "n_association"):
        if not isinstance(p[name], (int, np.integer)) or p[name] < 1:
            raise ValueError(f"'{name}' must be a positive integer, got {p[name]!r}")
    rng = np.random.default_rng(seed)
    phases, rows, t = [], [], 0.0

    def phase(name, end, plastic, start):
        phases.append({"phase": name, "start": start, "end": end, "plastic": plastic})

    phase("noise_1", p["noise_1"], True, t)
    t = p["noise_1"]
    # encoding: presentations until the phase is full
    start, pres = t, []
    while True:
        gap = rng.uniform(lo, hi)
        onset = t + gap
        if onset + p["pattern_duration"] > start + p["encoding"]:
            break
        pres.append((onset, PATTERNS[rng.integers(len(PATTERNS))]))
        t = onset + p["pattern_duration"]
    t = start + p["encoding"]
    rows += [("encoding", o, n) for o, n in pres]
    phase("encoding", t, True, start)
    phase("noise_2", t + p["noise_2"], True, t)
    t += p["noise_2"]
    pres, end = _presentations(TEST_PATTERNS, p["n_test"], rng, p["test_gap_range"], p["pattern_duration"], t)
    rows += [("test_before", o, n) for o, n in pres]
    phase("test_before", end, False, t)
    t = end
    pres, end = _presentations([TEST_COMBINED[0]], p["n_association"], rng, (lo, hi), p["pattern_duration"], t)
    rows += [("association", o, n) for o, n in pres]
    phase("association", end, True, t)
    t = end
    phase("noise_3", t + p["noise_3"], True, t)
    t += p["noise_3"]
    pres, end = _presentations(TEST_PATTERNS, p["n_test"], rng, p["test_gap_range"], p["pattern_duration"], t)
    rows += [("test_after", o, n) for o, n in pres]
    phase("test_after", end, False, t)
    return pd.DataFrame(phases), pd.DataFrame(rows, columns=["phase", "onset", "pattern"])


def render_schedule(phases, presentations, pattern_duration, bin_dt=0.01, silent_phases=()):
    """0/1 arrays on a grid of ``bin_dt`` seconds: activity of each pattern (n_bins, 3) and plasticity (n_bins,).

    A presentation occupies the bins whose start lies in ``[onset, onset + pattern_duration)`` (onsets
    are rounded to the grid); a combined pattern such as ``"A+B"`` activates A and B. The presentations of
    the phases named in ``silent_phases`` are left out (the input stays at background; the phases keep their
    timing and plasticity): ``silent_phases=("association",)`` is the sham twin of a run, the same run without
    the association.
    """
    if not bin_dt > 0:
        raise ValueError(f"'bin_dt' must be positive, got {bin_dt!r}")
    unknown = set(silent_phases) - set(phases["phase"])
    if isinstance(silent_phases, str) or unknown:
        raise ValueError(f"'silent_phases' must be a sequence of phase names of the schedule "
                         f"({', '.join(phases['phase'])}), got {silent_phases!r}")
    presentations = presentations[~presentations["phase"].isin(list(silent_phases))]
    total = float(phases["end"].max())
    n_bins = int(np.ceil(total / bin_dt - 1e-9))
    active = np.zeros((n_bins, len(PATTERNS)))
    length = int(round(pattern_duration / bin_dt))
    for onset, name in zip(presentations["onset"], presentations["pattern"]):
        first = int(round(onset / bin_dt))
        for p in name.split("+"):
            active[first:first + length, PATTERNS.index(p)] = 1.0
    plastic = np.zeros(n_bins)
    for _, row in phases.iterrows():
        first, last = int(round(row["start"] / bin_dt)), int(round(row["end"] / bin_dt))
        plastic[first:last] = 1.0 if row["plastic"] else 0.0
    return active, plastic


def rounded_onsets(presentations, bin_dt=0.01):
    """Onsets as rendered on the grid (``round(onset / bin_dt) * bin_dt``)."""
    return np.round(np.asarray(presentations["onset"], dtype=float) / bin_dt) * bin_dt
