"""smlint: checks containers against the SageMaker Processing contract."""
from __future__ import annotations

__version__ = "0.1.0"


def lint_text(text: str, path: str = "Dockerfile", **options):
    """Lint Dockerfile text; returns the list of `Finding`s (see `smlint.dockerfile.lint`)."""
    from .dockerfile.lint import lint_text as _lint_text

    return _lint_text(text, path=path, **options)


__all__ = ["__version__", "lint_text"]
