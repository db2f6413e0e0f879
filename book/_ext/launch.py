"""Launch and download buttons that point at the chapters' sources (registered in _config.yml).

A chapter's page is built from its executed copy, build/executed/<path>.ipynb, which is not
in the repository; its source is notebooks/<path>.md (MyST, opened as a notebook by
jupytext). The theme's launch buttons would send Binder and JupyterHub to the executed
copy's path: here they are pointed at the source. Colab opens only .ipynb files from the
repository, so its button is left out (download the .ipynb and upload it instead). The
download menu gets the MyST source beside the executed notebook, copied into the HTML.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

EXECUTED = "build/executed/"


def _rewrite(buttons: list[dict[str, Any]], executed: str, source: str) -> list[dict[str, Any]]:
    """The buttons with ``executed`` replaced by ``source`` in their URLs, Colab's dropped."""
    kept = []
    for button in buttons:
        if "colab" in button.get("label", "").lower():
            continue
        button = dict(button)
        if "buttons" in button:
            button["buttons"] = _rewrite(button["buttons"], executed, source)
        if isinstance(button.get("url"), str):
            button["url"] = button["url"].replace(executed, source)
        kept.append(button)
    return kept


def point_at_sources(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    if not pagename.startswith(EXECUTED) or "header_buttons" not in context:
        return
    chapter = pagename.removeprefix(EXECUTED)
    source = f"notebooks/{chapter}.md"
    buttons = _rewrite(context["header_buttons"], f"{pagename}.ipynb", source)
    for group in buttons:
        if group.get("label") == "download-buttons":
            group["buttons"].insert(
                1,
                {
                    "type": "link",
                    "url": f"{context['pathto']('_sources', 1)}/{source}",
                    "text": ".md (source)",
                    "tooltip": "Download the chapter's source (MyST notebook: open it in Jupyter with jupytext)",
                    "icon": "fas fa-file-code",
                    "label": "download-myst-source-button",
                },
            )
    context["header_buttons"] = buttons


def copy_sources(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    notebooks = Path(app.srcdir) / "notebooks"
    target = Path(app.outdir) / "_sources" / "notebooks"
    for path in notebooks.rglob("*.md"):
        (target / path.relative_to(notebooks)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target / path.relative_to(notebooks))


def setup(app: Sphinx) -> dict[str, bool]:
    app.connect("html-page-context", point_at_sources, priority=600)
    app.connect("build-finished", copy_sources)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
