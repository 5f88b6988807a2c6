"""lm-evaluation-harness tasks as metrics: the ``lm-eval:TASK`` family (``family.py``) builds one metric per task
(``metric.py``), found and described through lm-eval's own ``TaskManager`` (``harness.py``); docs/lm-eval.md."""
