"""BOLD: the ``bold`` metric (``metric.py``) and its prompts (``dataset.py``); HurtLex and the group
figures it shares with HONEST are in ``debiasbench_metrics.shared``."""
