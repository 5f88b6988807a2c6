"""CrowS-Pairs: the ``crows-pairs`` metric (``metric.py``) and its data set (``dataset.py``)."""
