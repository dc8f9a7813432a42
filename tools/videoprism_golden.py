"""Regenerate ``tests/golden/videoprism/`` with the OFFICIAL VideoPrism Flax code.

    python tools/videoprism_golden.py --videoprism PATH/TO/google-deepmind/videoprism \
        --output tests/golden/videoprism

Needs jax, flax, einops and einshape (not splitbench dependencies; use a scratch virtual
environment) and a checkout of github.com/google-deepmind/videoprism (only its
``videoprism/encoders.py`` and ``layers.py`` are imported). It builds a tiny random
``FactorizedVideoCLIP`` with the released architecture switches (``scan=True``, logit cap 50,
``pre`` norms, causal text attention, two auxiliary layers' worth of structure at toy sizes),
moves every array by seeded noise (layer-norm and per-dim scales start at zero, which would
hide mistakes), and writes

* ``videoprism-tiny-lvt.npz``: the variables flattened as ``params/a/b/...``, the layout of the
  released ``flax_lvt_*_repeated.npz`` files;
* ``videoprism-tiny-golden.npz``: a video, token ids with paddings, and the official model's
  video and text embeddings for them.

``tests/test_vlm_videoprism.py`` checks splitbench's PyTorch port against these.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def main() -> None:
    """Build, perturb, run and save (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videoprism", type=Path, required=True, help="checkout of the repo")
    ap.add_argument("--output", type=Path, required=True)
    args = ap.parse_args()
    sys.path.insert(0, str(args.videoprism))
    import jax
    import jax.numpy as jnp
    import numpy as np
    from videoprism import encoders  # type: ignore[import-not-found]

    model = encoders.FactorizedVideoCLIP(
        patch_size=4,
        pos_emb_shape=(3, 2, 2),
        num_spatial_layers=2,
        num_temporal_layers=1,
        mlp_dim=24,
        num_auxiliary_layers=1,
        vocabulary_size=64,
        enable_causal_atten=True,
        num_unimodal_layers=2,
        norm_policy="pre",
        model_dim=16,
        num_heads=2,
        atten_logit_cap=50.0,
        scan=True,
    )
    rng = np.random.default_rng(0)
    video = rng.random((2, 3, 8, 8, 3)).astype(np.float32)
    ids = np.array([[5, 9, 3, 0, 0, 0], [7, 1, 2, 8, 4, 6]], np.int32)
    pad = np.array([[0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 0, 0]], np.float32)
    params = model.init(jax.random.PRNGKey(0), jnp.asarray(video), jnp.asarray(ids), pad)
    params = jax.tree_util.tree_map(
        lambda x: x + 0.3 * jax.random.normal(jax.random.PRNGKey(int(x.size)), x.shape), params
    )

    def walk(tree: Any, prefix: str = "") -> Any:
        if hasattr(tree, "items"):
            for key in sorted(tree.keys()):
                yield from walk(tree[key], f"{prefix}/{key}" if prefix else key)
        else:
            yield prefix, np.asarray(tree)

    flat = dict(walk(params))
    v, t, _ = model.apply(params, jnp.asarray(video), jnp.asarray(ids), pad, train=False)
    args.output.mkdir(parents=True, exist_ok=True)
    np.savez(args.output / "videoprism-tiny-lvt.npz", **flat)
    np.savez(
        args.output / "videoprism-tiny-golden.npz",
        video=video,
        ids=ids,
        paddings=pad,
        video_embeddings=np.asarray(v),
        text_embeddings=np.asarray(t),
    )
    print(f"wrote {len(flat)} arrays and the golden outputs to {args.output}")


if __name__ == "__main__":
    main()
