"""What several instruments share (none of it scores text; the shared scorer is ``scoring/``).

- ``provenance.py``: what every metric records next to its numbers (data checksums, scoring setup,
  tokenizer fingerprint).
- ``pair_options.py``: the options of the metrics that compare two sentences (CrowS-Pairs, RedditBias).
- ``fluency_options.py``: the fluency guard's options of the generation metrics (HONEST, BOLD).
- ``group_stats.py``: figures per group and gaps between groups (HONEST, BOLD).
- ``hurtlex.py``: HurtLex as the hurtful-word test (HONEST, BOLD).
- ``seeding.py``: seeded generators for an instrument's own draws (SEAT, Winogender).
"""
