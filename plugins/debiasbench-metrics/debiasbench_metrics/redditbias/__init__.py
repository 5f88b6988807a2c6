"""RedditBias LM bias: the ``redditbias`` metric (``metric.py``) and the ``redditbias-test`` pairs
(``dataset.py``). The RedditBias forget set is debiasbench-unlearn's ``redditbias_forget_set.py``."""
