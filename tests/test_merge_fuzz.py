"""A short run of the merge fuzz job (tests/merge_fuzz.py) in ``make test``: seeded, bounded
(about 20 s), every figure 0."""

import pytest
from merge_fuzz import fuzz


@pytest.mark.parametrize("seed", [11, 12])
def test_fuzz_at_saturation_keeps_every_rule(seed):
    report = fuzz(seed, 25_000)
    assert report.bytes_in >= 5 * 25_000
    assert report.dropped > 0 and report.coalesced > 0  # it really was past what the outputs carry
    assert report.ok(), report
