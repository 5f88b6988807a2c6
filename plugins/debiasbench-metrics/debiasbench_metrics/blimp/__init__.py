"""BLiMP: the ``blimp`` utility metric (``metric.py``) and its paradigms (``dataset.py``)."""
