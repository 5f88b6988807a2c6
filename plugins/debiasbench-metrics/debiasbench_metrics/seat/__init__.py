"""SEAT: the ``seat`` metric (``metric.py``), its data set (``dataset.py``), the tests bias-bench runs
(``catalogue.py``), WEAT on embeddings (``weat.py``) and the sentence embeddings (``embeddings.py``)."""
