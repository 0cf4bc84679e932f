"""Tests for course_utils.models: shapes, exact parameter counts, input checks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_utils.models import FashionMLP, LeNet5, ResidualBlock, SmallCNN, TinyVGG, count_parameters


def conv_params(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    return c_in * c_out * k * k + (c_out if bias else 0)


def linear_params(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


# ---------------------------------------------------------------- count_parameters


def test_count_parameters_counts_all_and_trainable():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))  # 16 + 10
    assert count_parameters(model) == 26
    model[0].weight.requires_grad_(False)
    assert count_parameters(model) == 26
    assert count_parameters(model, trainable_only=True) == 26 - 12


def test_count_parameters_rejects_non_modules_and_bad_flag():
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module"):
        count_parameters([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="trainable_only: expected True or False"):
        count_parameters(nn.Linear(1, 1), trainable_only="yes")  # type: ignore[arg-type]


# ---------------------------------------------------------------- FashionMLP


def test_fashion_mlp_default_parameter_count_and_logits():
    model = FashionMLP()
    assert count_parameters(model) == linear_params(784, 256) + linear_params(256, 128) + linear_params(128, 10)
    assert count_parameters(model) == 235_146
    assert isinstance(model.flatten, nn.Flatten)
    assert isinstance(model.classifier[-1], nn.Linear)  # no activation after the output layer
    assert model(torch.randn(5, 1, 28, 28)).shape == (5, 10)
    assert model(torch.randn(5, 784)).shape == (5, 10)


def test_fashion_mlp_dropout_and_softmax_regression():
    model = FashionMLP(in_features=12, hidden=(8,), num_classes=3, dropout=0.5)
    assert sum(isinstance(m, nn.Dropout) for m in model.modules()) == 1
    assert model(torch.randn(2, 3, 2, 2)).shape == (2, 3)
    regression = FashionMLP(in_features=784, hidden=(), num_classes=10)
    assert count_parameters(regression) == 7850


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"in_features": 0}, "in_features: expected an integer >= 1"),
        ({"num_classes": 2.5}, "num_classes: expected an integer >= 1"),
        ({"hidden": 256}, "hidden: expected a sequence"),
        ({"hidden": (256, -1)}, "hidden: expected an integer >= 1"),
        ({"dropout": 1.0}, r"dropout: expected a probability in \[0, 1\)"),
    ],
)
def test_fashion_mlp_rejects_bad_arguments(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        FashionMLP(**kwargs)


def test_fashion_mlp_rejects_wrong_feature_count_and_uint8():
    model = FashionMLP()
    with pytest.raises(ValueError, match="images: expected 784 values per image after flattening, got 3072"):
        model(torch.randn(2, 3, 32, 32))
    with pytest.raises(TypeError, match="images: expected a floating-point tensor"):
        model(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))


# ---------------------------------------------------------------- TinyVGG


def test_tinyvgg_parameter_count_by_hand():
    # 4 conv layers (3x3, padding 1) and one Linear over 10 maps of 7x7 (28 -> 14 -> 7)
    expected = conv_params(1, 10, 3) + 3 * conv_params(10, 10, 3) + linear_params(10 * 7 * 7, 10)
    assert expected == 7_740
    assert count_parameters(TinyVGG(1, 10, 10, (28, 28))) == expected


def test_tinyvgg_rgb_64x64_parameter_count():
    expected = conv_params(3, 16, 3) + 3 * conv_params(16, 16, 3) + linear_params(16 * 16 * 16, 5)
    assert count_parameters(TinyVGG(3, 16, 5, 64)) == expected


@pytest.mark.parametrize("size", [(28, 28), (32, 32), (64, 64), (29, 31), (4, 4), (7, 12)])
def test_tinyvgg_flat_features_match_a_dry_run(size):
    model = TinyVGG(in_channels=3, hidden_channels=4, num_classes=7, image_size=size)
    with torch.no_grad():
        maps = model.block_2(model.block_1(torch.zeros(1, 3, *size)))
    assert model.flat_features == maps[0].numel()
    assert model(torch.randn(2, 3, *size)).shape == (2, 7)


def test_tinyvgg_any_batch_size_and_channels_last():
    torch.manual_seed(0)
    model = TinyVGG()
    x = torch.randn(3, 1, 28, 28)
    expected = model(x)
    channels_last = x.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(model(channels_last), expected, rtol=1e-4, atol=1e-5)
    model_cl = model.to(memory_format=torch.channels_last)
    torch.testing.assert_close(model_cl(channels_last), expected, rtol=1e-4, atol=1e-5)
    assert model(torch.randn(1, 1, 28, 28)).shape == (1, 10)


def test_tinyvgg_rejects_wrong_channels():
    with pytest.raises(ValueError, match=r"images: expected 1 channel\(s\) in dimension 1 for this TinyVGG, got 3"):
        TinyVGG()(torch.randn(2, 3, 28, 28))


def test_tinyvgg_rejects_wrong_image_size():
    with pytest.raises(ValueError, match="images: expected height×width 28×28 .*got 32×32"):
        TinyVGG()(torch.randn(2, 1, 32, 32))


def test_tinyvgg_rejects_unbatched_uint8_and_non_tensor_inputs():
    model = TinyVGG()
    with pytest.raises(ValueError, match="unsqueeze"):
        model(torch.randn(1, 28, 28))
    with pytest.raises(TypeError, match="images: expected a floating-point tensor"):
        model(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(TypeError, match="images: expected a torch.Tensor"):
        model([[0.0]])
    with pytest.raises(ValueError, match="at least one image"):
        model(torch.zeros(0, 1, 28, 28))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image_size": 3}, "image_size: expected height and width to be integers >= 4"),
        ({"image_size": (28, 28, 1)}, r"image_size: expected an int or a \(height, width\) pair"),
        ({"image_size": "28"}, r"image_size: expected an int or a \(height, width\) pair"),
        ({"image_size": (28.0, 28)}, "image_size: expected height and width to be integers"),
        ({"hidden_channels": 0}, "hidden_channels: expected an integer >= 1"),
        ({"in_channels": True}, "in_channels: expected an integer >= 1"),
    ],
)
def test_tinyvgg_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TinyVGG(**kwargs)


# ---------------------------------------------------------------- LeNet5


def test_lenet5_classic_parameter_count():
    expected = (
        conv_params(1, 6, 5)
        + conv_params(6, 16, 5)
        + linear_params(16 * 5 * 5, 120)
        + linear_params(120, 84)
        + linear_params(84, 10)
    )
    assert expected == 61_706
    model = LeNet5()
    assert count_parameters(model) == expected
    assert model.flat_features == 400
    assert model(torch.randn(4, 1, 28, 28)).shape == (4, 10)


def test_lenet5_rgb_32x32_and_tanh_flavour():
    model = LeNet5(in_channels=3, num_classes=10, image_size=32, activation="tanh")
    assert model.flat_features == 16 * 6 * 6
    assert any(isinstance(m, nn.Tanh) for m in model.modules())
    assert any(isinstance(m, nn.AvgPool2d) for m in model.modules())
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    assert model(torch.randn(2, 3, 32, 32).contiguous(memory_format=torch.channels_last)).shape == (2, 10)
    assert LeNet5(image_size=12)(torch.randn(1, 1, 12, 12)).shape == (1, 10)


def test_lenet5_rejects_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="activation: expected one of"):
        LeNet5(activation="sigmoid")
    with pytest.raises(ValueError, match="image_size: expected height and width to be integers >= 12"):
        LeNet5(image_size=11)
    with pytest.raises(ValueError, match=r"images: expected 1 channel\(s\)"):
        LeNet5()(torch.randn(1, 3, 28, 28))


# ---------------------------------------------------------------- ResidualBlock


def test_residual_block_identity_shortcut_keeps_shape():
    block = ResidualBlock(8)
    assert isinstance(block.shortcut, nn.Identity)
    assert count_parameters(block) == 2 * conv_params(8, 8, 3, bias=False) + 2 * 2 * 8
    assert block(torch.randn(2, 8, 9, 9)).shape == (2, 8, 9, 9)


def test_residual_block_projection_when_shape_changes():
    block = ResidualBlock(4, out_channels=8, stride=2)
    assert isinstance(block.shortcut, nn.Sequential)
    assert isinstance(block.shortcut[0], nn.Conv2d) and block.shortcut[0].kernel_size == (1, 1)
    expected = (
        conv_params(4, 8, 3, bias=False) + conv_params(8, 8, 3, bias=False) + conv_params(4, 8, 1, bias=False) + 3 * 16
    )
    assert count_parameters(block) == expected
    assert block(torch.randn(3, 4, 9, 9)).shape == (3, 8, 5, 5)
    assert isinstance(ResidualBlock(4, stride=2).shortcut, nn.Sequential)


def test_residual_block_output_is_relu_of_sum():
    torch.manual_seed(0)
    block = ResidualBlock(3).eval()
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        residual = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))
        torch.testing.assert_close(block(x), torch.relu(residual + x))


def test_residual_block_gradients_reach_every_parameter_and_the_input():
    torch.manual_seed(0)
    block = ResidualBlock(4, out_channels=6, stride=2)
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    block(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, parameter in block.named_parameters():
        assert parameter.grad is not None, name
        assert parameter.grad.abs().sum() > 0, name


def test_residual_block_identity_path_passes_gradient_with_zeroed_branch():
    # with the residual branch switched off (bn2 scale 0), the gradient still flows through the shortcut
    block = ResidualBlock(2)
    nn.init.zeros_(block.bn2.weight)
    x = (torch.rand(1, 2, 4, 4) + 0.1).requires_grad_()  # positive: ReLU passes it unchanged
    block(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.ones_like(x))


def test_residual_block_rejects_bad_arguments_and_channels():
    with pytest.raises(ValueError, match="stride: expected an integer >= 1"):
        ResidualBlock(4, stride=0)
    with pytest.raises(ValueError, match="out_channels: expected an integer >= 1"):
        ResidualBlock(4, out_channels=0)
    with pytest.raises(
        ValueError, match=r"images: expected 4 channel\(s\) in dimension 1 for this ResidualBlock, got 3"
    ):
        ResidualBlock(4)(torch.randn(1, 3, 8, 8))


# ---------------------------------------------------------------- SmallCNN


def test_small_cnn_parameter_count_and_structure():
    model = SmallCNN(in_channels=1, num_classes=10, width=8)

    def block(c_in: int, c_out: int, projection: bool) -> int:
        convs = conv_params(c_in, c_out, 3, bias=False) + conv_params(c_out, c_out, 3, bias=False)
        shortcut = conv_params(c_in, c_out, 1, bias=False) + 2 * c_out if projection else 0
        return convs + 2 * 2 * c_out + shortcut

    expected = (
        conv_params(1, 8, 3, bias=False) + 2 * 8 + block(8, 16, True) + block(16, 32, True) + linear_params(32, 10)
    )
    assert count_parameters(model) == expected
    deeper = SmallCNN(width=8, blocks_per_stage=2)
    assert count_parameters(deeper) == expected + block(16, 16, False) + block(32, 32, False)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) >= 5


@pytest.mark.parametrize("size", [(28, 28), (32, 32), (17, 23), (1, 1)])
def test_small_cnn_works_for_any_image_size(size):
    model = SmallCNN(in_channels=3, num_classes=4, width=4).eval()
    x = torch.randn(2, 3, *size)
    assert model(x).shape == (2, 4)
    torch.testing.assert_close(model(x.contiguous(memory_format=torch.channels_last)), model(x), rtol=1e-4, atol=1e-5)


def test_small_cnn_can_learn_a_tiny_batch():
    torch.manual_seed(0)
    model = SmallCNN(width=4, dropout=0.0)
    x, y = torch.randn(8, 1, 12, 12), torch.arange(8) % 2
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(15):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_small_cnn_rejects_bad_arguments_and_channels():
    with pytest.raises(ValueError, match="width: expected an integer >= 1"):
        SmallCNN(width=0)
    with pytest.raises(ValueError, match="blocks_per_stage: expected an integer >= 1"):
        SmallCNN(blocks_per_stage=0)
    with pytest.raises(ValueError, match=r"dropout: expected a probability"):
        SmallCNN(dropout=-0.1)
    with pytest.raises(ValueError, match=r"images: expected 1 channel\(s\) in dimension 1 for this SmallCNN, got 3"):
        SmallCNN(width=4)(torch.randn(1, 3, 28, 28))
