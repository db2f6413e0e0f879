"""empathylab: an executable research compendium on how large language models handle empathy.

Modules, each with one job: ``data`` (pinned public data), ``profiles`` (run profiles),
``design`` (identities and design sizes), ``stimuli`` (narratives as stimuli),
``models`` (embedded and hub models), ``plots`` (figures), ``book`` (chapter execution).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("empathylab")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"

__all__ = ["__version__"]
