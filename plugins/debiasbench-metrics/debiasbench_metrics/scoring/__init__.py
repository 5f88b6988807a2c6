"""The shared scorer: log-probabilities of text under a causal LM, used by every likelihood metric
(docs/concepts.md, "Sentence scoring"). Importing the package imports no torch.

Entry point: :func:`sentences.score_sentences` (text in, one score per sentence out) is what the
metrics call (CrowS-Pairs, StereoSet, RedditBias, BBQ, BLiMP, Winogender); the other modules are
its parts or serve one kind of input:

- ``sentences.py``: tokenise, score with shared prefixes, reduce (``mean`` / ``sum``); the entry point.
- ``scorer.py``: the plain batched scorer ``sentence_logprobs``, tokenisation (``encode``) and the
  reductions (``reduce_scores``, ``SCORINGS``); the reference the faster paths must match.
- ``pair_scorer.py``: ``shared_prefix_logprobs``, the same scores with the opening tokens shared by
  several sentences computed once (falls back to ``scorer.py`` where a model ignores 4-D masks).
- ``prefix_tree.py``: lays sentences out as one token tree per row for ``pair_scorer.py`` (numpy only).
- ``logprob_head.py``: from final hidden states to ``log P(target)`` without materialising the
  full logits (used by the scorers and by perplexity).
- ``continuations.py``: a continuation's log-probability after its context and whether it is the
  greedy one (LAMBADA).
- ``bare_context.py``: continuations scored with no prefix token before a non-empty context, as
  lm-evaluation-harness does (Winogender's default reading of its prompts).
"""
