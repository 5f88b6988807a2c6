"""debiasbench-metrics: the first-party metrics plugin.

Registers (``plugin.py``, entry point ``bias-metrics``) the bias metrics ``crows-pairs``, ``stereoset``,
``redditbias``, ``bbq``, ``honest``, ``bold``, ``winogender`` and ``seat``, the utility metrics
``perplexity``, ``blimp`` and ``lambada``, and their evaluation data sets (docs/concepts.md, one
heading each; ``honest`` and ``bold`` generate text with :mod:`debiasbench.lm.generation`).

Layout: one subpackage per instrument, holding its metric (``metric.py``), its data set
(``dataset.py``) and what only it uses; ``scoring/`` is the shared scorer (log-probabilities of text,
entry point ``scoring.sentences.score_sentences``); ``shared/`` holds the helpers several instruments
use (provenance, option sets, group figures, HurtLex, seeding). Importing this package imports no
torch: heavy libraries are imported inside the functions that need them.
"""
