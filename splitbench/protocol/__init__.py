"""The public method API.

Subclass :class:`Method` and return :class:`NewRows` or :class:`VideoProbabilities` from
:meth:`Method.edit`.
"""

from splitbench.core.needs import Needs
from splitbench.protocol.api import (
    ENTRY_POINT_GROUP,
    METHODS,
    EditOutput,
    Method,
    MethodMeta,
    NewRows,
    NoConfig,
    SessionSupport,
    VideoProbabilities,
    build_config,
    load_methods,
)
from splitbench.protocol.context import SplitTask, SubsetContext

__all__ = [
    "ENTRY_POINT_GROUP",
    "METHODS",
    "EditOutput",
    "Method",
    "MethodMeta",
    "Needs",
    "NewRows",
    "NoConfig",
    "SessionSupport",
    "SplitTask",
    "SubsetContext",
    "VideoProbabilities",
    "build_config",
    "load_methods",
]
