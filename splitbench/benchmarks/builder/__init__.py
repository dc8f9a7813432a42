"""Build category-splitting benchmarks in the official layout from fine-labelled video lists.

See ``docs/building-benchmarks.md``. Modules: :mod:`.inputs` (what a build starts from and
its checks), :mod:`.readers` (input file formats), :mod:`.construct` (the construction
rules), :mod:`.partition` (a seeded balanced A/B partition), :mod:`.writer` (the official
layout), :mod:`.recover` and :mod:`.check` (rebuild the official benchmarks and compare),
:mod:`.folder` (load a built folder as a benchmark).
"""
