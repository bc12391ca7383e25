"""A Pygments lexer for nndsl specs (`pygmentize -l nndsl spec.nn`), registered through the
entry point `pygments.lexers` in pyproject.toml, so that it is found once nndsl is installed.

The words come from nndsl/catalog.py, so the lexer knows what the checker knows. Pygments is
imported here only: nndsl itself never imports this module.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, Punctuation, String, Whitespace

from nndsl import catalog

BLOCKS = ("data", "model", "loss", "train")
#: The statements, and `shortcut`, the word that opens a residual block's second branch (`} shortcut {`).
STATEMENTS = tuple(sorted({word for words_ in catalog.BLOCK_STATEMENTS.values() for word in words_} | {"shortcut"}))
BUILTINS = tuple(sorted(set(catalog.ACTIVATIONS) | set(catalog.LOSSES) | set(catalog.INITIALIZERS)
                        | set(catalog.OPTIMIZERS) | set(catalog.REGULARIZERS) | set(catalog.DATA_SOURCES)
                        | set(catalog.METRICS) | {"all", "valid", "same", "grayscale", "rgb"}))


class NndslLexer(RegexLexer):
    """nndsl: blocks, statements, the catalog's names, numbers, shapes (8x8x1), strings, comments."""

    name = "nndsl"
    aliases = ["nndsl", "nn"]
    filenames = ["*.nn"]
    mimetypes = ["text/x-nndsl"]

    tokens = {
        "root": [
            (r"\s+", Whitespace),
            (r"#.*?$", Comment.Single),
            (r'"(?:[^"\\\n]|\\.)*"', String.Double),
            (r"'(?:[^'\\\n]|\\.)*'", String.Single),
            (r"([A-Za-z_][A-Za-z0-9_]*)(\s*)(=)", bygroups(Name.Attribute, Whitespace, Operator)),  # seed=3 too
            (words(("true", "false"), prefix=r"\b", suffix=r"\b"), Keyword.Constant),
            (words(BLOCKS, prefix=r"\b", suffix=r"\b"), Keyword.Declaration),
            (words(STATEMENTS, prefix=r"\b", suffix=r"\b"), Keyword),
            (words(BUILTINS, prefix=r"\b", suffix=r"\b"), Name.Builtin),
            (r"\d+(?:x\d+)+\b", Number.Integer),  # a shape: 8x8x1, 3x3
            (r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?", Number),
            (r"[A-Za-z_][A-Za-z0-9_]*", Name),
            (r"[{}()\[\],]", Punctuation),
            (r"[\^*=]", Operator),
            (r"[\"'].*?$", Error),  # a string left open
            (r".", Error),  # a character no spec may hold (the checker says which)
        ],
    }
