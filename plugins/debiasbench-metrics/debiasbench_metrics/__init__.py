"""debiasbench-metrics: the first-party metrics plugin.

Registers the evaluation data sets (``crows-pairs``, ``stereoset``, ``wikitext2``) and the
metrics ``crows-pairs``, ``stereoset`` and ``perplexity`` (SPEC sections 2-5). Importing this
package imports no torch: heavy libraries are imported inside the functions that need them.
"""
