"""Text encoders (cache, MiniLM, open_clip text tower) and safe checkpoint loading."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import torch

from splitbench.errors import ConfigError, DataError
from splitbench.models.checkpoint import load_checkpoint, load_state_dict_safely
from splitbench.models.text import CachedTextEncoder, OpenClipTextEncoder, get_text_encoder


class Counting:
    name = "counting"
    dim = 3

    def __init__(self, identity: str = "counting:v1") -> None:
        self.identity = identity
        self.seen: list[str] = []

    def encode(self, texts):
        self.seen.extend(texts)
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)


def test_cache_computes_each_text_once(tmp_path):
    inner = Counting()
    enc = CachedTextEncoder(inner, tmp_path / "c.sqlite")
    a = enc.encode(["ab", "abc", "ab"])
    assert a.shape == (3, 3) and a[0, 0] == 2 and inner.seen == ["ab", "abc"]
    # a new process (new wrapper) reads from disk
    inner2 = Counting()
    b = CachedTextEncoder(inner2, tmp_path / "c.sqlite").encode(["abc", "ab", "xyz"])
    assert inner2.seen == ["xyz"]
    np.testing.assert_array_equal(b[:2], a[[1, 0]])


def test_cache_is_keyed_by_identity(tmp_path):
    CachedTextEncoder(Counting("one"), tmp_path / "c.sqlite").encode(["t"])
    other = Counting("two")
    CachedTextEncoder(other, tmp_path / "c.sqlite").encode(["t"])
    assert other.seen == ["t"]


class BatchSensitive(Counting):
    """Like a padded transformer: a text's vector depends on the longest text of its batch."""

    def encode(self, texts):
        self.seen.extend(texts)
        longest = max(len(t) for t in texts)
        return np.array([[len(t), longest, 0.0] for t in texts], dtype=np.float32)


def test_a_cached_vector_is_a_function_of_the_text_alone(tmp_path):
    a = CachedTextEncoder(BatchSensitive(), tmp_path / "a.sqlite").encode(["ab", "abcdef"])
    b = CachedTextEncoder(BatchSensitive(), tmp_path / "b.sqlite").encode(["ab"])
    np.testing.assert_array_equal(a[0], b[0])  # whatever it was embedded with first


def test_cache_entries_of_another_format_are_not_reused(tmp_path):
    import sqlite3

    path = tmp_path / "c.sqlite"
    CachedTextEncoder(Counting(), path).encode(["t"])
    with sqlite3.connect(path) as db:  # an entry as written before vectors were per text
        db.execute("INSERT INTO emb VALUES (?, ?, ?)", ("counting:v1", "u", b"\0" * 12))
    again = Counting()
    CachedTextEncoder(again, path).encode(["t", "u"])
    assert again.seen == ["u"]


def test_minilm_vectors_do_not_depend_on_their_batch_or_the_thread_count(tmp_path):
    import torch

    texts = ["Dropping something behind something", "into", "Tearing something into two pieces"]
    together = CachedTextEncoder(get_text_encoder("minilm", cache=False), tmp_path / "a.sqlite")
    alone = CachedTextEncoder(get_text_encoder("minilm", cache=False), tmp_path / "b.sqlite")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)  # a serial run; --jobs workers have one thread
        a = together.encode(texts)
        assert torch.get_num_threads() == 2  # restored
        torch.set_num_threads(1)
        b = np.stack([alone.encode([t])[0] for t in texts[::-1]])[::-1]
    finally:
        torch.set_num_threads(before)
    np.testing.assert_array_equal(a, b)


def test_minilm_is_offline_and_real():
    enc = get_text_encoder("minilm")
    emb = enc.encode(
        [
            "Pushing something from left to right",
            "Pushing something from right to left",
            "Tearing something into two pieces",
        ]
    )
    assert emb.shape == (3, 384) and enc.identity.startswith("minilm:all-MiniLM-L6-v2:sha256=")
    sim = emb @ emb.T
    assert sim[0, 1] > sim[0, 2]  # paraphrase-level similarity, not random vectors


def test_clip_without_weights_says_where_to_put_them(monkeypatch):
    monkeypatch.delenv("SPLITBENCH_CLIP_L14_WEIGHTS", raising=False)
    with pytest.raises(ConfigError, match="SPLITBENCH_CLIP_L14_WEIGHTS"):
        get_text_encoder("clip-vit-l-14")


TINY = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def test_open_clip_text_tower_loads_local_weights(tmp_path):
    import open_clip

    model = open_clip.create_model("ViT-B-32", pretrained=None, **TINY)
    path = tmp_path / "tiny.bin"
    torch.save(model.state_dict(), path)
    enc = OpenClipTextEncoder("ViT-B-32", path, name="tiny-clip", **TINY)
    emb = enc.encode(["a video of bending something", "tearing"])
    assert emb.shape == (2, 16) and enc.identity.startswith("tiny-clip:ViT-B-32:sha256=")
    bad = tmp_path / "bad.bin"
    torch.save({"nothing": torch.zeros(1)}, bad)
    with pytest.raises(ConfigError, match="not ViT-B-32 weights"):
        OpenClipTextEncoder("ViT-B-32", bad, name="tiny-clip", **TINY)


def test_checkpoint_with_python_objects_needs_trust(tmp_path):
    sd = {"w": torch.ones(2)}
    plain = tmp_path / "plain.pth"
    torch.save({"model": sd}, plain)
    assert set(load_state_dict_safely(plain)) == {"w"}
    with_args = tmp_path / "args.pth"
    torch.save({"module": sd, "args": argparse.Namespace(lr=1)}, with_args)
    with pytest.raises(ConfigError, match="--trust-checkpoint"):
        load_checkpoint(with_args)
    assert set(load_state_dict_safely(with_args, trust=True)) == {"w"}


def test_checkpoint_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="cannot read checkpoint"):
        load_checkpoint(junk)
    empty = tmp_path / "empty.pth"
    torch.save({"epoch": 3}, empty)
    with pytest.raises(DataError, match="no state dict found"):
        load_state_dict_safely(Path(empty))
