"""The retrieval encoder's fitted deltas (qa.deltas): added to a transformer's layers and taken away again."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")


def test_deltas_are_added_to_the_named_layers_and_taking_them_away_restores_the_weights(tmp_path: Path):
    from safetensors.torch import save_file

    from qa.deltas import add

    torch.manual_seed(0)
    model = torch.nn.Sequential()
    model.add_module("query", torch.nn.Linear(6, 4))
    model.add_module("other", torch.nn.Linear(4, 4))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    a, b = torch.randn(2, 6), torch.randn(4, 2)
    save_file({"query.lora_a": a.half(), "query.lora_b": b.half()}, str(tmp_path / "d.safetensors"))
    fitted = {"rank": 2, "alpha": 4.0, "targets": ["query"]}
    add(model, tmp_path / "d.safetensors", fitted)
    want = before["query.weight"] + 2.0 * (b.half().float() @ a.half().float())
    assert torch.allclose(model.query.weight, want, atol=1e-6)
    assert torch.equal(model.other.weight, before["other.weight"]) and torch.equal(model.query.bias, before["query.bias"])
    add(model, tmp_path / "d.safetensors", fitted, sign=-1.0)
    assert torch.allclose(model.query.weight, before["query.weight"], atol=1e-6)
