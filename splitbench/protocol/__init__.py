"""The public method API: everything a method plugin imports comes from here.

Subclass :class:`Method` and return :class:`NewRows` or :class:`VideoProbabilities` from
:meth:`Method.edit`. What methods use besides the API is re-exported too, so no plugin
imports a private module: feature stores and VLM spaces, text encoders, prompt sets and
class embeddings, support-shot sampling, and the errors a method raises.
"""

from splitbench.benchmarks.shots import SHOT_POLICIES, ShotPolicy, ShotSample, sample_shots
from splitbench.core.needs import Needs
from splitbench.errors import ConfigError, DataError, MethodError
from splitbench.features.store import FeatureStore
from splitbench.features.vlm import VLMSpace, vlm_names
from splitbench.models.prompts import DEFAULT_PROMPTS, class_embeddings, templates
from splitbench.models.text import TextEncoder
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
from splitbench.protocol.context import SplitTask, StoreInfo, SubsetContext
from splitbench.protocol.paper import PAPER, paper_meta

__all__ = [
    "DEFAULT_PROMPTS",
    "ENTRY_POINT_GROUP",
    "METHODS",
    "PAPER",
    "SHOT_POLICIES",
    "ConfigError",
    "DataError",
    "EditOutput",
    "FeatureStore",
    "Method",
    "MethodError",
    "MethodMeta",
    "Needs",
    "NewRows",
    "NoConfig",
    "SessionSupport",
    "ShotPolicy",
    "ShotSample",
    "SplitTask",
    "StoreInfo",
    "SubsetContext",
    "TextEncoder",
    "VLMSpace",
    "VideoProbabilities",
    "build_config",
    "class_embeddings",
    "load_methods",
    "paper_meta",
    "sample_shots",
    "templates",
    "vlm_names",
]
