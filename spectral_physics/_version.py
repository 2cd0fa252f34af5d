"""The version of spectral-physics, stated once.

``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``) and ``spectral_physics``
re-exports it as ``spectral_physics.__version__``; nothing else restates it.
"""

__version__ = "0.1.0"
