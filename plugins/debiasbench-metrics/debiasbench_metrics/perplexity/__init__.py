"""WikiText-2 perplexity: the ``perplexity`` metric (``metric.py``), the ``wikitext2`` data set
(``dataset.py``) and the windows each evaluation reads (``windows.py``)."""
