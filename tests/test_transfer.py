"""Tests for course_utils.transfer: heads, freezing, parameter groups, feature extraction."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models.convnext import CNBlockConfig, ConvNeXt

from course_utils import runtime
from course_utils.models import FashionMLP, LeNet5, SmallCNN, TinyVGG, count_parameters
from course_utils.transfer import (
    discriminative_param_groups,
    extract_features,
    find_head,
    freeze,
    freeze_backbone,
    param_groups,
    replace_head,
    unfreeze,
)

def trainable_ids(model: nn.Module) -> set[int]:
    return {id(p) for p in model.parameters() if p.requires_grad}


# ---------------------------------------------------------------- freeze / unfreeze


def test_freeze_and_unfreeze_switch_requires_grad_and_return_the_module():
    model = TinyVGG()
    assert freeze(model) is model
    assert count_parameters(model, trainable_only=True) == 0
    assert unfreeze(model.classifier) is model.classifier
    assert count_parameters(model, trainable_only=True) == 10 * 7 * 7 * 10 + 10
    unfreeze(model)
    assert count_parameters(model, trainable_only=True) == count_parameters(model) == 7_740


def test_freeze_rejects_non_modules():
    with pytest.raises(TypeError, match="module: expected a torch.nn.Module, got list"):
        freeze([nn.Linear(1, 1)])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="module: expected a torch.nn.Module"):
        unfreeze(None)  # type: ignore[arg-type]


# ---------------------------------------------------------------- find_head / replace_head


@pytest.mark.parametrize(
    ("build", "head_name", "in_features"),
    [
        (lambda: torchvision.models.resnet18(weights=None), "fc", 512),
        (lambda: torchvision.models.efficientnet_b0(weights=None), "classifier.1", 1280),
        (lambda: torchvision.models.mobilenet_v3_small(weights=None), "classifier.3", 1024),
        (lambda: ConvNeXt([CNBlockConfig(8, 16, 1), CNBlockConfig(16, None, 1)]), "classifier.2", 16),
        (
            lambda: torchvision.models.VisionTransformer(
                image_size=32, patch_size=16, num_layers=1, num_heads=2, hidden_dim=8, mlp_dim=16
            ),
            "heads.head",
            8,
        ),
        (lambda: TinyVGG(), "classifier.1", 490),
        (lambda: SmallCNN(width=4), "classifier.3", 16),
        (lambda: LeNet5(), "classifier.5", 84),
        (lambda: FashionMLP(), "classifier.0", 128),
    ],
)
def test_find_head_and_replace_head_on_many_architectures(build, head_name, in_features):
    model = build()
    name, head = find_head(model)
    assert name == head_name
    assert head.in_features == in_features
    assert replace_head(model, 7) is model
    new_name, new_head = find_head(model)
    assert new_name == head_name
    assert new_head is not head
    assert (new_head.in_features, new_head.out_features) == (in_features, 7)
    assert model.get_submodule(head_name) is new_head


def test_replace_head_updates_num_classes_and_forward_width():
    model = TinyVGG(num_classes=10)
    replace_head(model, 3)
    assert model.num_classes == 3
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 3)


def test_replace_head_keeps_dtype_and_bias_setting():
    class Plain(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = nn.Linear(6, 4, bias=False, dtype=torch.float64)

    model = Plain()
    name, _ = find_head(model)
    assert name == "head"
    replace_head(model, 2)
    assert model.head.bias is None
    assert model.head.weight.dtype == torch.float64
    assert model.head.weight.requires_grad


def test_find_head_handles_a_plain_linear_classifier_like_densenet():
    class DenseLike(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Conv2d(3, 4, 3)
            self.classifier = nn.Linear(4, 9)

    model = DenseLike()
    assert find_head(model)[0] == "classifier"
    replace_head(model, 2)
    assert model.classifier.out_features == 2


def test_find_head_raises_a_clear_error_without_a_linear_head():
    class SqueezeLike(nn.Module):  # SqueezeNet's classifier ends with a 1×1 convolution, not a Linear
        def __init__(self) -> None:
            super().__init__()
            self.classifier = nn.Sequential(nn.Dropout(), nn.Conv2d(3, 4, 1))

    with pytest.raises(
        ValueError, match="model: expected a classifier whose head is an nn.Linear .* got a SqueezeLike"
    ):
        find_head(SqueezeLike())
    with pytest.raises(ValueError, match="got a Sequential without one"):
        find_head(nn.Sequential(nn.Conv2d(3, 4, 1)))
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module"):
        find_head("resnet18")  # type: ignore[arg-type]


def test_replace_head_rejects_bad_num_classes():
    with pytest.raises(ValueError, match="num_classes: expected an integer >= 1, got int 0"):
        replace_head(TinyVGG(), 0)


# ---------------------------------------------------------------- freeze_backbone


@pytest.mark.parametrize(
    ("arch", "total", "head_params"),
    [
        ("resnet18", 11_181_642, 512 * 10 + 10),
        ("efficientnet_b0", 4_020_358, 1280 * 10 + 10),
        ("mobilenet_v3_small", 1_528_106, 1024 * 10 + 10),
    ],
)
def test_freeze_backbone_leaves_only_the_head_trainable(arch, total, head_params):
    model = replace_head(torchvision.models.get_model(arch, weights=None), 10)
    assert count_parameters(model) == total
    assert freeze_backbone(model) is model
    assert count_parameters(model, trainable_only=True) == head_params
    _, head = find_head(model)
    assert trainable_ids(model) == {id(p) for p in head.parameters()}
    assert count_parameters(model) == total  # nothing removed


def test_freeze_backbone_then_training_changes_only_the_head():
    torch.manual_seed(0)
    model = freeze_backbone(TinyVGG())
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    loss = nn.functional.cross_entropy(model(torch.randn(4, 1, 28, 28)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    optimizer.step()
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert changed == {"classifier.1.weight", "classifier.1.bias"}


# ---------------------------------------------------------------- param_groups


def test_groups_leave_weight_decay_to_the_optimizer_unless_given():
    """AdamW(groups, weight_decay=0.01) must decay: a group's own key would silently override it."""
    model = replace_head(TinyVGG(), 3)
    layer_groups = [["block_1"], ["block_2"], ["classifier"]]
    for groups in (param_groups(model, head_lr=1e-3, backbone_lr=1e-4),
                   discriminative_param_groups(model, layer_groups, head_lr=1e-3)):
        assert all("weight_decay" not in g for g in groups)
        optimizer = torch.optim.AdamW(groups, weight_decay=0.01)
        assert [g["weight_decay"] for g in optimizer.param_groups] == [0.01] * len(groups)
    given = torch.optim.AdamW(param_groups(model, head_lr=1e-3, backbone_lr=1e-4, weight_decay=0.0), weight_decay=0.5)
    assert [g["weight_decay"] for g in given.param_groups] == [0.0, 0.0]


def test_param_groups_cover_each_trainable_parameter_exactly_once():
    model = replace_head(torchvision.models.resnet18(weights=None), 10)
    freeze(model.conv1)  # a few frozen parameters must be left out
    groups = param_groups(model, head_lr=1e-3, backbone_lr=1e-4, weight_decay=0.01)
    assert [g["name"] for g in groups] == ["head", "backbone"]
    assert [g["lr"] for g in groups] == [1e-3, 1e-4]
    assert all(g["weight_decay"] == 0.01 for g in groups)
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids))  # no parameter in two groups
    assert set(ids) == trainable_ids(model)
    assert {id(p) for p in groups[0]["params"]} == {id(model.fc.weight), id(model.fc.bias)}
    assert id(model.conv1.weight) not in set(ids)
    optimizer = torch.optim.AdamW(groups)
    assert [g["lr"] for g in optimizer.param_groups] == [1e-3, 1e-4]


def test_param_groups_with_frozen_backbone_have_only_the_head():
    model = freeze_backbone(TinyVGG())
    groups = param_groups(model, head_lr=0.01, backbone_lr=0.001)
    assert len(groups) == 1 and groups[0]["name"] == "head"
    assert sum(p.numel() for p in groups[0]["params"]) == 4_910


def test_param_groups_count_a_shared_parameter_once():
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Linear(4, 4)
            self.fc = nn.Linear(4, 4)
            self.fc.weight = self.embed.weight  # weight tying: one tensor, two places

    model = Tied()
    groups = param_groups(model, head_lr=0.1, backbone_lr=0.01)
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == 3
    torch.optim.SGD(groups)  # torch itself rejects a parameter in two groups


def test_param_groups_reject_a_frozen_head_and_bad_rates():
    model = freeze(TinyVGG())
    with pytest.raises(ValueError, match="model: expected a trainable classifier head"):
        param_groups(model, head_lr=0.1, backbone_lr=0.01)
    with pytest.raises(ValueError, match="head_lr: expected a number > 0, got int 0"):
        param_groups(TinyVGG(), head_lr=0, backbone_lr=0.01)
    with pytest.raises(ValueError, match="backbone_lr: expected a number > 0"):
        param_groups(TinyVGG(), head_lr=0.1, backbone_lr=-1.0)
    with pytest.raises(ValueError, match="weight_decay: expected a number >= 0"):
        param_groups(TinyVGG(), head_lr=0.1, backbone_lr=0.01, weight_decay=-0.1)
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module"):
        param_groups(None, head_lr=0.1, backbone_lr=0.01)  # type: ignore[arg-type]


# ---------------------------------------------------------------- discriminative_param_groups

RESNET_GROUPS = [["conv1", "bn1", "layer1"], ["layer2"], ["layer3"], ["layer4"], ["fc"]]


def test_discriminative_param_groups_rates_shrink_towards_the_input():
    model = torchvision.models.resnet18(weights=None)
    groups = discriminative_param_groups(model, RESNET_GROUPS, head_lr=1e-3, factor=3.0, weight_decay=0.05)
    assert [g["name"] for g in groups] == ["conv1+bn1+layer1", "layer2", "layer3", "layer4", "fc"]
    assert [g["lr"] for g in groups] == pytest.approx([1e-3 / 81, 1e-3 / 27, 1e-3 / 9, 1e-3 / 3, 1e-3])
    assert all(g["weight_decay"] == 0.05 for g in groups)
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) and set(ids) == trainable_ids(model)
    assert {id(p) for p in groups[-1]["params"]} == {id(model.fc.weight), id(model.fc.bias)}
    optimizer = torch.optim.AdamW(groups)
    assert [g["name"] for g in optimizer.param_groups][0] == "conv1+bn1+layer1"


def test_discriminative_param_groups_skip_frozen_parameters_and_empty_groups():
    model = torchvision.models.resnet18(weights=None)
    freeze(model.conv1), freeze(model.bn1), freeze(model.layer1)
    groups = discriminative_param_groups(model, RESNET_GROUPS, head_lr=1.0, factor=10.0)
    assert [g["name"] for g in groups] == ["layer2", "layer3", "layer4", "fc"]
    assert [g["lr"] for g in groups] == pytest.approx([1e-3, 1e-2, 1e-1, 1.0])  # rates keep their positions
    # a frozen module may be left out of the groups; dotted names reach nested modules
    groups = discriminative_param_groups(model, [["layer2", "layer3"], ["layer4.0", "layer4.1"], ["fc"]], head_lr=0.1)
    assert [g["lr"] for g in groups] == pytest.approx([1e-3, 1e-2, 0.1])


def test_discriminative_param_groups_name_missing_repeated_and_unknown_layers():
    model = TinyVGG()
    with pytest.raises(ValueError, match=r"every trainable parameter in a group, got 4 left out: block_2\.0\.weight"):
        discriminative_param_groups(model, [["block_1"], ["classifier"]], head_lr=0.1)
    with pytest.raises(ValueError, match=r"in one group only, got 'block_1\.0\.weight' in 'block_1' and again"):
        discriminative_param_groups(model, [["block_1"], ["block_1", "block_2"], ["classifier"]], head_lr=0.1)
    with pytest.raises(ValueError, match=r"groups\[1\]: expected names of submodules such as \['block_1', 'block_2', "
                                         r"'classifier'\], got 'block_3'"):
        discriminative_param_groups(model, [["block_1"], ["block_3"]], head_lr=0.1)
    many = nn.Sequential(*[nn.Linear(2, 2) for _ in range(4)])
    with pytest.raises(ValueError, match="got 6 left out: 1.weight, 1.bias, 2.weight, 2.bias, 3.weight and 1 more"):
        discriminative_param_groups(many, [["0"]], head_lr=0.1)
    with pytest.raises(ValueError, match="model: expected at least one trainable parameter"):
        discriminative_param_groups(freeze(TinyVGG()), [["block_1", "block_2", "classifier"]], head_lr=0.1)


def test_discriminative_param_groups_validate_their_arguments():
    model = TinyVGG()
    groups = [["block_1", "block_2"], ["classifier"]]
    with pytest.raises(TypeError, match="groups: expected a list of lists of module names"):
        discriminative_param_groups(model, "block_1", head_lr=0.1)
    with pytest.raises(TypeError, match="groups: expected a list of lists"):
        discriminative_param_groups(model, [], head_lr=0.1)
    with pytest.raises(TypeError, match=r"groups\[0\]: expected a non-empty list of module names, got str 'block_1'"):
        discriminative_param_groups(model, ["block_1", ["classifier"]], head_lr=0.1)
    with pytest.raises(ValueError, match="head_lr: expected a number > 0"):
        discriminative_param_groups(model, groups, head_lr=0)
    with pytest.raises(ValueError, match="factor: expected a number > 0"):
        discriminative_param_groups(model, groups, head_lr=0.1, factor=-2)
    with pytest.raises(ValueError, match="weight_decay: expected a number >= 0"):
        discriminative_param_groups(model, groups, head_lr=0.1, weight_decay=-1)
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module"):
        discriminative_param_groups([], groups, head_lr=0.1)  # type: ignore[arg-type]


# ---------------------------------------------------------------- extract_features


@pytest.mark.parametrize("bf16_cpu", [False, True], ids=["fp32-cpu", "bf16-cpu"])
def test_extract_features_returns_what_the_head_receives(monkeypatch, bf16_cpu):
    """On every CPU: fp32 where the CPU has no bf16 matrix units, bf16 autocast where it has (Intel AMX)."""
    monkeypatch.setattr(runtime, "cpu_supports_bf16", lambda: bf16_cpu)
    torch.manual_seed(0)
    model = TinyVGG(hidden_channels=4)
    model.train()
    images, labels = torch.randn(10, 1, 28, 28), torch.arange(10)
    batches = [(images[:6], labels[:6]), (images[6:], labels[6:])]
    features, got_labels = extract_features(model, batches)
    assert features.shape == (10, 4 * 7 * 7) and features.dtype == torch.float32
    assert torch.equal(got_labels, labels)
    assert model.training  # mode restored
    model.eval()
    policy = runtime.precision_policy("cpu")  # the policy extract_features ran under
    assert (policy.autocast_dtype is torch.bfloat16) == bf16_cpu
    with torch.no_grad(), policy.autocast():
        layout = torch.channels_last if policy.channels_last else torch.contiguous_format
        expected = model.classifier[0](model.block_2(model.block_1(images.to(memory_format=layout)))).float()
        torch.testing.assert_close(features, expected, atol=1e-6, rtol=1e-6)
        logits = model(images.to(memory_format=layout)).float()
    # the head on the features gives the model's logits (in bf16, within its rounding)
    tolerance = 2e-2 if bf16_cpu else 1e-5
    torch.testing.assert_close(model.classifier[1](features), logits, atol=tolerance, rtol=tolerance)
    assert not model.classifier[1]._forward_hooks  # the hook is removed


def test_extract_features_on_resnet_gives_pooled_vectors_and_moves_to_the_device():
    model = torchvision.models.resnet18(weights=None)
    features, labels = extract_features(model, [(torch.randn(3, 3, 32, 32), torch.tensor([1, 2, 0]))], device="cpu")
    assert features.shape == (3, 512)
    assert labels.tolist() == [1, 2, 0]


def test_extract_features_rejects_bad_loaders():
    model = TinyVGG()
    with pytest.raises(ValueError, match="loader: expected batches of \\(images, labels\\), got .* as batch 0"):
        extract_features(model, [torch.randn(2, 1, 28, 28)])
    with pytest.raises(ValueError, match="loader: expected at least one batch, got an empty list"):
        extract_features(model, [])
    assert not find_head(model)[1]._forward_hooks
