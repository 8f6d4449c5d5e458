"""The ViT of late-sam (LS-F11) and the ViT-B/16 of eigen-sam (ES-T2): sizes, shapes, seeding, HVPs, loading."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sharpness.models import MODEL_NAMES, build_model, count_parameters, model_options
from sharpness.models.vit import VIT_PRESETS

CIFAR = (3, 32, 32)
DIGITS = (1, 8, 8)
TINY_VIT = {"name": "vit", "width": 8, "depth": 2, "heads": 2, "mlp_ratio": 2}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def vit_parameters(input_shape, classes, patch, width, depth, mlp_ratio=4, class_token=True):
    """Patch embedding, class token, positions, per block 2 LNs + fused q/k/v + output map + MLP, final LN, head."""
    channels, height, wide = input_shape
    d, m, t = width, mlp_ratio * width, int(class_token)
    patches = (height // patch) * (wide // patch)
    embedding = (channels * patch * patch * d + d) + t * d + (patches + t) * d
    per_block = 2 * 2 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * m + m) + (m * d + d)
    return embedding + depth * per_block + 2 * d + (d * classes + classes)


def randomised(model: nn.Module, seed: int, std: float = 0.3) -> nn.Module:
    """Redraw every parameter at a scale where attention is far from uniform (init std 0.02 is not)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(std * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return model


# ----------------------------------------------------------------------------- vit


def test_registered_and_options_listed():
    assert {"vit", "vit_b16"} <= set(MODEL_NAMES)
    assert model_options("vit") == {
        "patch_size": 4, "width": 192, "depth": 12, "heads": 3, "mlp_ratio": 4, "dropout": 0.0, "pool": "cls",
    }
    assert model_options("vit_b16") == {"weights": None, "image_size": 224}


def test_vit_t_and_vit_s_parameter_counts_on_cifar100():
    assert VIT_PRESETS == {"vit_t": dict(width=192, depth=12, heads=3), "vit_s": dict(width=384, depth=12, heads=6)}
    vit_t = build_model({"name": "vit"}, CIFAR, 100)  # the defaults are ViT-T
    assert count_parameters(vit_t) == vit_parameters(CIFAR, 100, 4, 192, 12) == 5_380_132
    assert len(vit_t.blocks) == 12 and vit_t.blocks[0].attention.heads == 3
    vit_s = build_model({"name": "vit", **VIT_PRESETS["vit_s"]}, CIFAR, 100)
    assert count_parameters(vit_s) == vit_parameters(CIFAR, 100, 4, 384, 12) == 21_376_996


@pytest.mark.parametrize(
    ("input_shape", "patch", "pool"), [(DIGITS, 2, "cls"), (CIFAR, 4, "cls"), (DIGITS, 4, "mean"), ((3, 8, 16), 4, "cls")]
)
def test_vit_output_shape_and_parameter_formula(input_shape, patch, pool):
    model = build_model({**TINY_VIT, "patch_size": patch, "pool": pool}, input_shape, 5)
    assert model(torch.randn(3, *input_shape)).shape == (3, 5)
    expected = vit_parameters(input_shape, 5, patch, 8, 2, mlp_ratio=2, class_token=pool == "cls")
    assert count_parameters(model) == expected


def test_vit_rejects_images_of_another_shape():
    model = build_model({**TINY_VIT, "patch_size": 2}, DIGITS, 5)
    with pytest.raises(ValueError, match=re.escape("(1, 8, 8)")):
        model(torch.randn(2, 1, 16, 16))


def test_vit_same_seed_gives_identical_weights_and_different_seed_does_not():
    def weights(seed):
        torch.manual_seed(seed)
        return [p.detach().clone() for p in build_model({**TINY_VIT, "patch_size": 2}, DIGITS, 5).parameters()]

    first, again, other = weights(7), weights(7), weights(8)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))


def test_vit_initialisation_is_deit():
    torch.manual_seed(0)
    model = build_model({"name": "vit", "depth": 1}, CIFAR, 100)
    for name, p in model.named_parameters():
        if name.endswith("bias"):  # LayerNorm shifts included
            assert not p.any(), name
        elif "norm" in name:
            assert torch.equal(p, torch.ones_like(p)), name
        elif p.numel() > 10_000:  # qkv, out, MLP, patch and position embeddings, head
            assert abs(p.std().item() - 0.02) < 0.05 * 0.02, name
    assert model.blocks[0].norm1.eps == 1e-6


def test_vit_attention_is_not_causal():
    """The class token comes first, so under a causal mask it could never see the last patch."""
    torch.manual_seed(0)
    model = randomised(build_model({**TINY_VIT, "depth": 1, "patch_size": 2}, DIGITS, 5).double(), 1)
    x = torch.randn(2, *DIGITS, dtype=torch.float64)
    changed = x.clone()
    changed[..., 6:, 6:] += 1.0  # the last 2×2 patch only
    assert (model(x) - model(changed)).abs().max() > 1e-3


def test_vit_dropout_only_in_training():
    torch.manual_seed(0)
    model = build_model({**TINY_VIT, "patch_size": 2, "dropout": 0.5}, DIGITS, 5)
    assert sum(isinstance(m, nn.Dropout) for m in model.modules()) == 1 + 2 * 3  # embedding; attn + 2 MLP per block
    x = torch.randn(4, *DIGITS)
    assert torch.equal(model.eval()(x), model(x))
    assert not torch.equal(model.train()(x), model(x))


def test_double_backward_hvp_matches_forward_over_reverse():
    torch.manual_seed(0)
    model = randomised(build_model({**TINY_VIT, "patch_size": 2}, DIGITS, 3).double(), 2)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(5, *DIGITS, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (5,), generator=gen)
    params = {name: p.detach().requires_grad_(True) for name, p in model.named_parameters()}
    v = {name: torch.randn(p.shape, generator=gen, dtype=torch.float64) for name, p in params.items()}

    def loss(p):
        return F.cross_entropy(torch.func.functional_call(model, p, (x,)), y)

    grads = torch.autograd.grad(loss(params), list(params.values()), create_graph=True)
    reverse = torch.autograd.grad(grads, list(params.values()), grad_outputs=list(v.values()))
    _, forward = torch.func.jvp(torch.func.grad(loss), (params,), (v,))
    for name, r in zip(params, reverse):
        torch.testing.assert_close(r, forward[name], rtol=1e-10, atol=1e-12)
    assert max(r.abs().max().item() for r in reverse) > 1e-2  # a non-trivial Hessian


@pytest.mark.parametrize(
    ("spec", "shape", "mentioned"),
    [
        ({"name": "vit", "patch_size": 3}, CIFAR, "patch_size"),
        ({"name": "vit", "patch_size": 0}, CIFAR, "patch_size"),
        ({"name": "vit", "patch_size": 4}, (1, 8, 6), "patch_size"),
        ({"name": "vit", "heads": 5}, CIFAR, "heads"),
        ({"name": "vit", "pool": "max"}, CIFAR, "pool"),
        ({"name": "vit", "dropout": 1.5}, CIFAR, "dropout"),
        ({"name": "vit", "depth": 0}, CIFAR, "depth"),
        ({"name": "vit"}, (64,), "vit"),
        ({"name": "vit_b16", "image_size": 40}, CIFAR, "image_size"),
        ({"name": "vit_b16", "weights": 3}, CIFAR, "weights"),
        ({"name": "vit_b16"}, DIGITS, "vit_b16"),
    ],
)
def test_bad_spec_raises_value_error_naming_it(spec, shape, mentioned):
    with pytest.raises(ValueError, match=mentioned):
        build_model(spec, shape, 10)


# ----------------------------------------------------------------------------- vit_b16


@pytest.fixture(scope="module")
def vit_b16():
    """One ViT-B/16 at image_size=32 (2×2 patches), shared because each build takes about a second."""
    torch.manual_seed(0)
    return build_model({"name": "vit_b16", "image_size": 32}, CIFAR, 10).eval()


def test_vit_b16_is_torchvision_vit_b_16(vit_b16):
    from torchvision.models import VisionTransformer

    assert isinstance(vit_b16, VisionTransformer) and vit_b16.patch_size == 16 and vit_b16.hidden_dim == 768
    assert len(vit_b16.encoder.layers) == 12 and vit_b16.encoder.layers[0].self_attention.num_heads == 12
    # torchvision's published size, 86,567,656 at 224×224 (197 tokens) with 1000 classes; here 5 tokens, 10 classes.
    assert count_parameters(vit_b16) + (197 - 5) * 768 + (1000 - 10) * (768 + 1) == 86_567_656
    assert not vit_b16.heads.head.weight.any() and vit_b16.heads.head.weight.shape == (10, 768)


def test_vit_b16_output_shape_and_bilinear_resize(vit_b16):
    with torch.no_grad():
        assert vit_b16(torch.randn(2, *CIFAR)).shape == (2, 10)
        small = torch.randn(2, 3, 16, 16)
        resized = F.interpolate(small, size=(32, 32), mode="bilinear", align_corners=False)
        assert torch.equal(vit_b16(small), vit_b16(resized))


def test_vit_b16_missing_weights_file_names_it(tmp_path):
    missing = tmp_path / "vit_b_16-c867db91.pth"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        build_model({"name": "vit_b16", "image_size": 32, "weights": str(missing)}, CIFAR, 10)


def test_vit_b16_loads_backbone_and_skips_head(vit_b16, tmp_path):
    state = dict(vit_b16.state_dict())
    state["heads.head.weight"] = torch.ones(10, 768)  # a trained head that must not be loaded
    path = tmp_path / "vit_b16.pth"
    torch.save(state, path)
    torch.manual_seed(1)  # a different draw, so equal tensors below are the loaded ones
    loaded = build_model({"name": "vit_b16", "image_size": 32, "weights": str(path)}, CIFAR, 7)
    for name, tensor in loaded.state_dict().items():
        if name.startswith("heads."):
            assert torch.equal(tensor, torch.zeros(7, 768) if name.endswith("weight") else torch.zeros(7)), name
        else:
            assert torch.equal(tensor, state[name]), name
    assert loaded(torch.randn(1, *CIFAR)).shape == (1, 7)

    torch.save({"conv_proj.weight": state["conv_proj.weight"]}, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match="not a torchvision ViT-B/16"):
        build_model({"name": "vit_b16", "image_size": 32, "weights": str(tmp_path / "partial.pth")}, CIFAR, 7)


def test_vit_b16_interpolates_position_embeddings_of_another_resolution(vit_b16, tmp_path):
    path = tmp_path / "vit_b16_32px.pth"
    torch.save(vit_b16.state_dict(), path)
    loaded = build_model({"name": "vit_b16", "image_size": 64, "weights": str(path)}, CIFAR, 10)
    source, target = vit_b16.encoder.pos_embedding, loaded.encoder.pos_embedding
    assert source.shape == (1, 1 + 2 * 2, 768) and target.shape == (1, 1 + 4 * 4, 768)
    assert torch.equal(target[:, 0], source[:, 0])  # the class token's position is not interpolated
    assert torch.equal(loaded.conv_proj.weight, vit_b16.conv_proj.weight)
