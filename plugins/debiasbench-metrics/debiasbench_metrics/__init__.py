"""debiasbench-metrics: the first-party metrics plugin.

Registers the evaluation data sets (``crows-pairs``, ``stereoset``, ``wikitext2``, ``redditbias-test``,
``bbq``, ``honest``, ``bold``) and the metrics ``crows-pairs``, ``stereoset``, ``perplexity``, ``redditbias``,
``bbq``, ``honest`` and ``bold`` (docs/concepts.md, one heading each; the last two generate
text with :mod:`debiasbench.lm.generation`). Importing this
package imports no torch: heavy libraries are imported inside the functions that need them.
"""
