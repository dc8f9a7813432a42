"""The evaluation facade: one pipeline behind ``run``, ``grid`` and ``leaderboard build``.

Example::

    import splitbench

    ev = splitbench.evaluate(["coarse_copy", "modifier_retrieval"], "synthetic", seeds=[0])
    print(ev.leaderboard().to_markdown())
"""

from splitbench.evaluation.facade import EvaluatedMethod, Evaluation, MethodSpec, evaluate

__all__ = ["EvaluatedMethod", "Evaluation", "MethodSpec", "evaluate"]
