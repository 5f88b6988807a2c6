"""Winogender: the ``winogender`` metric (``metric.py``) and its schemas (``dataset.py``)."""
