"""Fitted low-rank deltas (qa.deltas): added to a transformer's layers and taken away again; the shipped encoder's."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")


def test_deltas_are_added_to_the_named_layers_and_taking_them_away_restores_the_weights(tmp_path: Path):
    from safetensors.torch import save_file

    from qa.deltas import Deltas

    torch.manual_seed(0)
    model = torch.nn.Sequential()
    model.add_module("query", torch.nn.Linear(6, 4))
    model.add_module("other", torch.nn.Linear(4, 4))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    a, b = torch.randn(2, 6), torch.randn(4, 2)
    save_file({"query.lora_a": a.half(), "query.lora_b": b.half()}, str(tmp_path / "d.safetensors"))
    deltas = Deltas.read(tmp_path / "d.safetensors", {"rank": 2, "alpha": 4.0, "targets": ["query"]})
    deltas.add(model)
    want = before["query.weight"] + 2.0 * (b.half().float() @ a.half().float())
    assert torch.allclose(model.query.weight, want, atol=1e-6)
    assert torch.equal(model.other.weight, before["other.weight"]) and torch.equal(model.query.bias, before["query.bias"])
    deltas.add(model, sign=-1.0)
    assert torch.allclose(model.query.weight, before["query.weight"], atol=1e-6)


def test_the_shipped_encoder_deltas_fit_the_default_model_under_either_of_its_names():
    """Each target layer of all-MiniLM-L6-v2 has both factors at the fitted rank; the Hub id gets them too."""
    from qa import deltas
    from qa.config import DEFAULT_MODEL

    fitted = deltas.settings()
    assert fitted["model"] == DEFAULT_MODEL
    shipped = deltas.encoder_for(DEFAULT_MODEL)
    assert set(shipped.tensors) == {f"{t}.{f}" for t in fitted["targets"] for f in ("lora_a", "lora_b")}
    for name in fitted["targets"]:
        a, b = shipped.tensors[f"{name}.lora_a"], shipped.tensors[f"{name}.lora_b"]
        assert a.shape[0] == b.shape[1] == fitted["rank"] and a.shape[1] in (384, 1536) and b.shape[0] in (384, 1536)
    assert deltas.digest_for(f"sentence-transformers/{DEFAULT_MODEL}") == deltas.digest_for(DEFAULT_MODEL) == shipped.digest
    assert deltas.digest_for("/some/other/model") is None
