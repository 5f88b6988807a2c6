"""Language-model machinery shared by metrics: :mod:`debiasbench.lm.generation` (batched, KV-cached
decoding). Importing this package imports no torch."""
