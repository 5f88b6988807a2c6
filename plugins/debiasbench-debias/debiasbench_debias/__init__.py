"""debiasbench-debias: bias-bench's debiasing baselines (Meade et al. 2022) as debiasbench methods.

Importing the package imports no torch; models are touched only inside ``unlearn``.
"""
