"""empathylab: an executable research compendium on how large language models handle empathy.

One LLM layer and two wings that use it and never each other:

- :mod:`empathylab.llm`: backends (transformers, vLLM, OpenAI-compatible, fake), weights,
  the answer trie, the chunk store and the resumable-run loop;
- :mod:`empathylab.gaps`: Part I, intergroup empathy gaps (Hou et al. 2025);
- :mod:`empathylab.llmpathy`: Part II, LLM labels for empathy (Hasan et al. 2026);

and shared, thin modules: ``data`` (pinned public data), ``metrics``, ``errors``,
``cache``, ``profiles`` (run profiles), ``book`` (chapter execution), ``cli``,
``departures`` (where the book departs from the papers).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("empathylab")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"

__all__ = ["__version__"]
