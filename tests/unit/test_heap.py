"""kubesim.heap: the collector settings of a serving process (process-wide, so restored after)."""

import gc

from kubesim import heap


def test_settle_freezes_the_live_heap_and_makes_collections_rarer():
    before = gc.get_threshold()
    try:
        live = [{"a": [1]} for _ in range(100)]  # containers alive at settle time
        heap.settle()
        assert gc.get_threshold() == heap.THRESHOLDS
        assert gc.get_freeze_count() >= len(live)
        assert heap.THRESHOLDS[0] > before[0]
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
