"""debiasbench-unlearn: forget sets, span selectors and unlearning methods.

Three entry points, each its own plugin in ``debiasbench plugins``:
``forget-sets`` (hatecheck, toxigen, dynahate), ``span-selectors`` (annotated, lexicon,
counterfactual, all, random) and ``unlearning-methods`` (mlm-unlearn, token-ga, grad-diff,
kl, npo). Importing the package imports no torch.
"""

__version__ = "0.1.0"
