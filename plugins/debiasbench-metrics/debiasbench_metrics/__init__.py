"""debiasbench-metrics: the first-party metrics plugin.

Registers the evaluation data sets (``crows-pairs``, ``stereoset``, ``wikitext2``, ``redditbias-test``,
``bbq``, ``honest``, ``bold``) and the metrics ``crows-pairs``, ``stereoset``, ``perplexity`` (SPEC
sections 2-5), ``redditbias``, ``bbq``, ``honest`` and ``bold`` (SPEC section 11; the last two generate
text with :mod:`debiasbench.lm.generation`). Importing this
package imports no torch: heavy libraries are imported inside the functions that need them.
"""
