"""Where method plugins register: the entry-point group, defined once.

A leaf so that code which only lists plugins (``splitbench list methods`` from its cache)
can name the group without importing the method API, which imports torch.
"""

from __future__ import annotations

ENTRY_POINT_GROUP = "splitbench.methods"
"""The entry-point group of method plugins (``[project.entry-points."splitbench.methods"]``)."""
