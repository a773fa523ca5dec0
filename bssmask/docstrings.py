"""The documented arguments of a class, read from its docstring, as plain text for command-line help.

A class documents each option once, in its docstring's ``Args:`` (a
constructor's arguments) or ``Attributes:`` (a dataclass's fields) section,
one ``name: meaning`` entry per option, continued on deeper-indented lines.
:func:`entries` turns that section into ``{name: meaning}`` for the recipe
config (:mod:`bssmask.config`) and the ``bssmask ablate`` parser.

Meanings come back as plain text: inline code loses its double backquotes,
a Sphinx reference (``:func:`~bssmask.masks.get```) becomes its name, and a
``:data:`` reference to a tuple of names or a dict keyed by names lists them
(``one of :data:`UP_METHODS``` reads ``one of nearest, bilinear, bicubic``).
Such a reference is looked up in the documenting module's namespace, so
reading a docstring imports nothing.

Example:
    >>> from bssmask.ablation_config import AblationConfig
    >>> entries(AblationConfig, "Attributes")["methods"]
    'upsampling methods, any of nearest, bilinear, bicubic'
"""

from __future__ import annotations

import inspect
import re
import sys

_REFERENCE = re.compile(r":(\w+):`(~?)([\w.]+)`")
_CODE = re.compile(r"``(.+?)``")


def entries(owner: type, section: str) -> dict[str, str]:
    """``{name: meaning}`` of the ``section`` (``"Args"``, ``"Attributes"``) of ``owner``'s docstring.

    Each meaning is one line of plain text without its final period.

    Raises:
        ValueError: the docstring has no such section.
    """
    lines = inspect.cleandoc(owner.__doc__ or "").splitlines()
    if f"{section}:" not in lines:
        raise ValueError(f"{owner.__qualname__}: no {section}: section in its docstring")
    namespace = vars(sys.modules[owner.__module__])
    found: dict[str, list[str]] = {}
    indent = None
    for line in lines[lines.index(f"{section}:") + 1:]:
        depth = len(line) - len(line.lstrip())
        if not line.strip():
            continue
        if depth == 0:
            break
        indent = indent or depth
        if depth == indent:
            name, _, meaning = line.strip().partition(": ")
            found[name] = [meaning]
        else:
            found[name].append(line.strip())
    return {name: _plain(" ".join(words), namespace).removesuffix(".") for name, words in found.items()}


def _plain(text: str, namespace: dict) -> str:
    """``text`` without reStructuredText markup; ``:data:`` references to names list them."""

    def reference(match: re.Match) -> str:
        role, short, target = match.groups()
        names = _names(_lookup(target, namespace)) if role == "data" else None
        if names:
            return ", ".join(names)
        return target.rsplit(".", 1)[-1] if short else target

    return _CODE.sub(r"\1", _REFERENCE.sub(reference, text))


def _lookup(target: str, namespace: dict):
    """The object a dotted ``target`` names, starting from the longest tail whose head ``namespace`` holds."""
    parts = target.split(".")
    for start, head in enumerate(parts):
        if head not in namespace:
            continue
        value = namespace[head]
        for part in parts[start + 1:]:
            value = getattr(value, part, None)
        if value is not None:
            return value
    return None


def _names(value) -> tuple[str, ...] | None:
    """The names a tuple of strings or a dict keyed by strings holds, else ``None``."""
    if isinstance(value, (tuple, dict)) and value and all(isinstance(name, str) for name in value):
        return tuple(value)
    return None
