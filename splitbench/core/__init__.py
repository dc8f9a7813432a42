"""The leaf layer: pure pieces every other layer may use and that import nothing above them.

Modules here depend only on the standard library (and NumPy where arrays are the data):
:mod:`~splitbench.core.hashing` (the one hashing helper), :mod:`~splitbench.core.jsonable`
(the one JSON helper) and :mod:`~splitbench.core.needs` (what a method declares it needs).
The import contract in ``pyproject.toml`` (``make lint``) fails on any upward import.
"""
