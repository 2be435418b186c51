"""Field docstrings: the string literal written under each field of a config dataclass.

Python keeps no such docstrings at run time, so :func:`field_docs` reads them from the
class's source. They are the help of the command-line options
(:func:`mzero.config.add_override_arguments`) and the descriptions of the generated
configuration reference.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import textwrap
from functools import cache


@cache
def field_docs(cls: type) -> dict[str, str]:
    """Field name -> the docstring written under the field in the class body (whitespace-joined).

    Returns an empty dict if the source is unavailable (e.g. a zipped install).
    """
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    docs: dict[str, str] = {}
    statements = body.body
    for stmt, nxt in itertools.pairwise(statements):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            docs[stmt.target.id] = " ".join(nxt.value.value.split())
    return docs
