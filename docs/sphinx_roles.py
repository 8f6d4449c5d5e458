"""Griffe extension for the API reference (mkdocs.yml loads it): the docstrings cross-reference
in Sphinx's syntax (:class:`HessianOperator`, :func:`~sharpness.spectrum.lanczos.top_eigenpairs`),
which Markdown would print as written; show each as the code span Sphinx would show."""

import re

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|obj|exc):`(~?)([^`]+)`")


def shown(role: re.Match) -> str:
    """``~a.b.C`` shows ``C`` (Sphinx's convention); anything else as written."""
    tilde, target = role.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


class SphinxRoles(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(shown, obj.docstring.value)
