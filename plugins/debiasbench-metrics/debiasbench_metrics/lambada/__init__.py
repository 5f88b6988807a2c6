"""LAMBADA: the ``lambada`` utility metric (``metric.py``) and its passages (``dataset.py``)."""
