"""HONEST: the ``honest`` metric (``metric.py``) and its templates (``dataset.py``); HurtLex and the
group figures it shares with BOLD are in ``debiasbench_metrics.shared``."""
