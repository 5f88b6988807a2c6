"""Every unlearning method of the plugin, one module per method or family (registered, in order, by
``methods_plugin.py``). Importing the package imports no torch.

- ``ascent.py``: the gradient-ascent family of docs/concepts.md, "Unlearning methods": mlm-unlearn,
  token-ga, grad-diff, kl; ``npo.py``: npo.
- ``benign_ga.py``: the study's ``benign-ga`` control method (docs/statistics.md, "The controls").
- The zoo (docs/methods-unlearning.md): open-unlearning's methods ``simnpo.py``, ``rmu.py``, ``wga.py``,
  ``satimp.py``, ``undial.py``, ``dpo.py``, ``ceu.py``, ``pdu.py``, ``altpo.py``; task-vector negation
  (``task_vector.py``); and the bias-unlearning methods trained on sentence pairs
  (``debiasbench_unlearn.pairs``) ``biasunlearn.py`` and ``pcgu.py`` (a partitioned update,
  ``partition.py``, with its own SGD loop). Each is a small loss on the core's training loop
  (task-vector reuses the loop to fine-tune a copy).
- What several share: ``common.py`` (the retain NLL term, the optional-retain method, the ``quick``
  preset, a masked token mean), ``activations.py`` (hidden states, rmu), ``preferred.py`` (the
  preferred side of a pair, dpo and altpo).
"""
