"""BBQ: the ``bbq`` metric (``metric.py``), its data set (``dataset.py``), which answer is the biased one
(``rules.py``), decisions and figures from per-choice scores (``scores.py``) and per-item rows (``items.py``)."""
