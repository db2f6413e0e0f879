"""Say on every page when the book's answers are simulated (registered in _config.yml).

The chapters under build/executed/ record the profile papermill ran them with; when its
backend is the fake one (the class profile), the theme's announcement bar carries
:func:`empathylab.reproduce.simulated_notice` on every page of the book.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config


def announce(app: Sphinx, config: Config) -> None:
    from empathylab.reproduce import EXECUTED, executed_profile, simulated_notice

    profile = executed_profile(Path(app.srcdir) / EXECUTED)
    notice = simulated_notice(profile) if profile is not None else None
    if notice:
        config.html_theme_options = {**config.html_theme_options, "announcement": notice}


def setup(app: Sphinx) -> dict[str, bool]:
    app.connect("config-inited", announce)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
