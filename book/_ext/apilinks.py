"""Small services for the API reference (book/api.md), registered in _config.yml.

1. ``exports``: tell the module template (book/_templates/autosummary/module.rst) what
   each module exports: its ``__all__``, each name with its kind (function, class,
   exception, data, module), read from the imported package, so every public name is
   documented once, constants included, and nothing that a module merely imports. A
   name in ``__all__`` that the module does not define is a warning (it breaks
   ``from module import *``).
2. ``resolve_alias``: link a re-exported name to the entry of the module that defines
   it. The chapters call ``gaps.analyze``, defined in ``empathylab.gaps.analysis``; a
   reference to ``empathylab.gaps.analyze`` (the name a reader sees) links to that entry,
   and survives a function moving between the modules of a wing. A docstring's relative
   reference (``:func:`delta_matrix``` in a sibling module) goes to the one object of
   that name nearest the docstring's module.
3. ``remove_generated``: delete the pages autosummary generated into book/api/ by an
   earlier build before the table of contents is read. With ``only_build_toc_files``,
   pages that exist then and are not in _toc.yml are excluded, and the build would
   fail on them; autosummary writes them afresh right after.
4. ``rewrite_shadowed``: write the page of a module whose package rebinds its name
   (autosummary would document the function of the same name there).
5. ``drop_builtin_docstring``: a constant without a doc comment shows no docstring
   (autodoc would show its type's, ``dict``'s or ``tuple``'s).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

PACKAGE = "empathylab."
GENERATED = Path("book") / "api"
SHORT_VALUE = 80  # a constant whose repr is longer is documented without its value


def _kind(value) -> str:
    if inspect.ismodule(value):
        return "module"
    if inspect.isclass(value):
        return "exception" if issubclass(value, BaseException) else "class"
    if callable(value):
        return "function"
    return "data" if len(repr(value)) <= SHORT_VALUE else "data-no-value"


def exports() -> dict[str, list[tuple[str, str]]]:
    """``{module: [(name, kind), ...]}`` for every module of the package, in ``__all__`` order.

    A module without ``__all__`` exports the public functions and classes it defines.
    """
    root = importlib.import_module(PACKAGE.rstrip("."))
    found = {}
    for info in pkgutil.walk_packages(root.__path__, PACKAGE):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        module = importlib.import_module(info.name)
        names = getattr(module, "__all__", None)
        if names is None:
            names = [
                name
                for name, value in vars(module).items()
                if not name.startswith("_") and getattr(value, "__module__", None) == info.name
            ]
        missing = [name for name in names if not hasattr(module, name)]
        if missing:
            logger.warning(
                "%s.__all__ names what the module does not define: %s",
                info.name,
                ", ".join(missing),
                type="apilinks",
            )
        names = [name for name in dict.fromkeys(names) if name not in missing]
        found[info.name] = [(name, _kind(getattr(module, name))) for name in names]
    return _mark_orphans(found)


def _mark_orphans(found: dict[str, list[tuple[str, str]]]) -> dict[str, list[tuple[str, str]]]:
    """Mark a package's export that no module of the package documents: kind ``here:KIND``.

    The package page documents it itself (a constant that its defining module leaves
    out of ``__all__``, say), so every exported name has an entry to link to.
    """
    elsewhere = set()
    for module, names in found.items():
        obj = importlib.import_module(module)
        if not hasattr(obj, "__path__"):
            elsewhere.update(id(getattr(obj, name)) for name, _ in names)
    for module, names in found.items():
        obj = importlib.import_module(module)
        if hasattr(obj, "__path__"):
            found[module] = [
                (name, kind if kind == "module" or id(getattr(obj, name)) in elsewhere else "here:" + kind)
                for name, kind in names
            ]
    return found


def _shadowed(found) -> list[str]:
    """Modules that their package's namespace rebinds to another object of the same name.

    ``from empathylab.llmpathy.augmentation import augmentation`` makes
    ``empathylab.llmpathy.augmentation`` the function, so autosummary writes a function
    page where the module page belongs.
    """
    shadowed = []
    for module in found:
        parent, _, name = module.rpartition(".")
        if (
            parent in found
            and getattr(importlib.import_module(parent), name, None) is not sys.modules[module]
        ):
            shadowed.append(module)
    return shadowed


def _import(target: str):
    """The object named by the dotted ``target``, or None."""
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _defining_names(env, target: str) -> list[str]:
    """Names under which the object called ``target`` may be documented.

    A function or class is documented where it is defined (``__module__``); so is an
    attribute or method of one (``empathylab.llm.Request.tags``). A constant has no
    ``__module__``: it is any documented name that holds the same object.
    """
    parts = target.split(".")
    for cut in range(len(parts), 1, -1):
        obj = _import(".".join(parts[:cut]))
        if obj is None:
            continue
        if inspect.ismodule(obj):
            return [".".join([obj.__name__, *parts[cut:]])]
        module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        if isinstance(module, str) and isinstance(qualname, str):
            return [".".join([module, qualname, *parts[cut:]])]
        if cut == len(parts):
            documented = env.get_domain("py").objects
            return [name for name in documented if name.endswith("." + parts[-1]) and _import(name) is obj]
    return []


def _nearest(env, node) -> list[str]:
    """The documented objects whose name ends with the relative ``target``, nearest first.

    A docstring's ``:func:`delta_matrix``` looks in its own module only; when the
    function lives in a sibling module, the one object of that name in the package,
    or the one closest to the docstring's module, is meant.
    """
    domain = env.get_domain("py")
    target = node["reftarget"].lstrip(".~")
    types = set(domain.objtypes_for_role(node["reftype"]) or [])
    found = [
        name
        for name, entry in domain.objects.items()
        if name.startswith(PACKAGE) and name.endswith("." + target) and entry.objtype in types
    ]
    here = (node.get("py:module") or "").split(".")

    def shared(name: str) -> int:
        common = 0
        for a, b in zip(here, name.split(".")):
            if a != b:
                break
            common += 1
        return common

    if len(found) > 1:
        best = max(shared(name) for name in found)
        found = [name for name in found if shared(name) == best]
    return found if len(found) == 1 else []


def resolve_alias(app, env, node, contnode):
    """``missing-reference`` handler: retry a py reference at the object's defining name."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    names = _defining_names(env, target) if target.startswith(PACKAGE) else _nearest(env, node)
    domain = env.get_domain("py")
    for name in names:
        if name == target:
            continue
        found = domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], name, node, contnode)
        if found is not None:
            return found
    return None


def drop_builtin_docstring(app, what, name, obj, options, lines):
    """``autodoc-process-docstring`` handler: a constant without a doc comment would
    otherwise show the docstring of its type (``dict``, ``tuple``)."""
    if what in ("data", "attribute") and lines:
        builtin = inspect.getdoc(type(obj)) or ""
        if "\n".join(lines).strip() == builtin.strip():
            lines.clear()


def remove_generated(app, config):
    """``config-inited`` handler, run before sphinx_external_toc's (priority 900)."""
    folder = Path(app.srcdir) / GENERATED
    if folder.is_dir():
        for page in folder.glob("empathylab*.rst"):
            page.unlink()


def add_exports(app, config):
    """``config-inited`` handler: the module template reads ``exports[fullname]``."""
    config.autosummary_context = {**config.autosummary_context, "exports": exports()}


def rewrite_shadowed(app):
    """``builder-inited`` handler, after autosummary's: write the shadowed modules' pages."""
    from sphinx.ext.autosummary.generate import AutosummaryRenderer

    context = app.config.autosummary_context
    renderer = AutosummaryRenderer(app)
    for module in _shadowed(context["exports"]):
        page = Path(app.srcdir) / GENERATED / f"{module}.rst"
        if page.exists():
            page.write_text(renderer.render("autosummary/module.rst", {**context, "fullname": module}))


def setup(app):
    app.connect("config-inited", remove_generated, priority=100)
    app.connect("config-inited", add_exports, priority=100)
    app.connect("missing-reference", resolve_alias)
    app.connect("autodoc-process-docstring", drop_builtin_docstring)
    app.connect("builder-inited", rewrite_shadowed, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
