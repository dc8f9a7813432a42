"""A method plugin that fails its unit on a subset's second target, and only there.

The runner tests import it; the CLI tests pass this file as ``--plugin``.
"""

from splitbench.protocol import Method, MethodMeta, NewRows


class Exploding(Method):
    meta = MethodMeta("exploding", "Exploding", "raises on the second target", shots=0)
    deterministic = True

    def edit(self, task, ctx, seed):
        if task.coarse_index == task.subset.targets[1].coarse_index:
            raise ValueError("plugin bug")
        c = task.coarse_index
        return NewRows(ctx.weight[c].repeat(task.k, 1), ctx.bias[c].repeat(task.k))
