"""The course's reference models, from a plain MLP to a small residual network.

Every model here takes a batch of images laid out N×C×H×W (float, any batch
size, contiguous or ``channels_last``) and returns raw class scores (logits) of
shape N×num_classes: no softmax at the end, because ``nn.CrossEntropyLoss``
applies log-softmax itself. Each ``forward`` first checks its input so that a
wrong channel count or image size fails with a sentence naming what was expected
and what came, instead of a matrix-multiplication error deep inside PyTorch.

All models keep their final ``nn.Linear`` as the last layer of an attribute
called ``classifier``, so ``course_utils.transfer.replace_head`` finds it the
same way it finds the head of torchvision's models.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._validate import describe, require_choice, require_positive_int, require_tensor

__all__ = [
    "FashionMLP",
    "LeNet5",
    "ResidualBlock",
    "SmallCNN",
    "TinyVGG",
    "count_parameters",
]

_FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


def _image_size_pair(name: str, value: int | Sequence[int], minimum: int) -> tuple[int, int]:
    """Turn ``28`` or ``(28, 28)`` into ``(height, width)``, each at least ``minimum``."""
    if isinstance(value, int) and not isinstance(value, bool):
        pair = (value, value)
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        pair = (value[0], value[1])
    else:
        raise ValueError(f"{name}: expected an int or a (height, width) pair, got {describe(value)}")
    for side in pair:
        if isinstance(side, bool) or not isinstance(side, int) or side < minimum:
            raise ValueError(
                f"{name}: expected height and width to be integers >= {minimum} "
                f"(smaller images vanish inside the network), got {describe(value)}"
            )
    return pair


def _check_images(
    images: object,
    in_channels: int,
    *,
    model_name: str,
    image_size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """The input check every ``forward`` runs: a float N×C×H×W batch with the right channels and size."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images: expected a torch.Tensor batch N×C×H×W, got {describe(images)}")
    if images.ndim != 4:
        hint = " (add a batch dimension with images.unsqueeze(0))" if images.ndim == 3 else ""
        raise ValueError(f"images: expected a 4-dimensional batch N×C×H×W{hint}, got {describe(images)}")
    if images.dtype not in _FLOAT_DTYPES:
        raise TypeError(
            f"images: expected a floating-point tensor (convert uint8 images with images.float() / 255), "
            f"got {describe(images)}"
        )
    if images.shape[1] != in_channels:
        raise ValueError(
            f"images: expected {in_channels} channel(s) in dimension 1 for this {model_name}, "
            f"got {images.shape[1]} ({describe(images)})"
        )
    if images.shape[0] == 0:
        raise ValueError(f"images: expected a batch with at least one image, got {describe(images)}")
    if image_size is not None and tuple(images.shape[-2:]) != image_size:
        height, width = image_size
        raise ValueError(
            f"images: expected height×width {height}×{width} (the image_size this {model_name} was built for), "
            f"got {images.shape[-2]}×{images.shape[-1]}"
        )
    return images


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Count the numbers a model learns (its parameters' elements).

    With ``trainable_only=True`` only parameters with ``requires_grad=True`` count,
    which is what changes after freezing part of a model.

    Taught in lesson 03.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {describe(model)}")
    if not isinstance(trainable_only, bool):
        raise TypeError(f"trainable_only: expected True or False, got {describe(trainable_only)}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


class FashionMLP(nn.Module):
    """A multi-layer perceptron: flatten each image, then Linear → ReLU layers, then a Linear output.

    The baseline that ignores the image's 2-D structure: every pixel is just one of
    ``in_features`` numbers. ``hidden`` lists the width of each hidden layer (an
    empty tuple gives plain softmax regression). ``dropout`` > 0 adds dropout after
    each hidden activation. The output layer has no activation: it returns logits.

    Taught in lesson 03.
    """

    def __init__(
        self,
        in_features: int = 784,
        hidden: Sequence[int] = (256, 128),
        num_classes: int = 10,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        require_positive_int("in_features", in_features)
        require_positive_int("num_classes", num_classes)
        if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
            raise TypeError(f"hidden: expected a sequence of layer widths such as (256, 128), got {describe(hidden)}")
        for width in hidden:
            require_positive_int("hidden", width)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {describe(dropout)}")
        self.in_features = in_features
        self.num_classes = num_classes
        self.flatten = nn.Flatten()
        layers: list[nn.Module] = []
        width_in = in_features
        for width in hidden:
            layers += [nn.Linear(width_in, width), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width_in = width
        self.hidden_layers = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(width_in, num_classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Map a batch N×C×H×W (or N×features) to logits N×num_classes."""
        require_tensor("images", images, ndim=(2, 3, 4))
        if images.dtype not in _FLOAT_DTYPES:
            raise TypeError(
                f"images: expected a floating-point tensor (convert uint8 images with images.float() / 255), "
                f"got {describe(images)}"
            )
        features = images[0].numel()
        if features != self.in_features:
            raise ValueError(
                f"images: expected {self.in_features} values per image after flattening, "
                f"got {features} ({describe(images)})"
            )
        return self.classifier(self.hidden_layers(self.flatten(images)))


class TinyVGG(nn.Module):
    """The small VGG-style network of the CNN Explainer.

    Two blocks of conv3×3 → ReLU → conv3×3 → ReLU → max-pool 2×2, then Flatten
    and one Linear layer. The 3×3 convolutions use padding 1, so they keep the
    height and width; each pooling halves them (rounding down). The Linear layer's
    input size is therefore ``hidden_channels × (H // 2 // 2) × (W // 2 // 2)``,
    computed here from ``image_size`` so the same class works for 28×28
    FashionMNIST, 32×32 CIFAR-10, 64×64 photos or any size of at least 4×4.

    Taught in lesson 02.
    """

    def __init__(
        self,
        in_channels: int = 1,
        hidden_channels: int = 10,
        num_classes: int = 10,
        image_size: int | Sequence[int] = (28, 28),
    ) -> None:
        super().__init__()
        require_positive_int("in_channels", in_channels)
        require_positive_int("hidden_channels", hidden_channels)
        require_positive_int("num_classes", num_classes)
        self.image_size = _image_size_pair("image_size", image_size, minimum=4)
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.block_1 = nn.Sequential(
            nn.Conv2d(in_channels, hidden_channels, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden_channels, hidden_channels, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2),
        )
        self.block_2 = nn.Sequential(
            nn.Conv2d(hidden_channels, hidden_channels, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden_channels, hidden_channels, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2),
        )
        height, width = self.image_size
        self.flat_features = hidden_channels * (height // 2 // 2) * (width // 2 // 2)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(self.flat_features, num_classes),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Map a batch N×C×H×W of the configured size to logits N×num_classes."""
        _check_images(images, self.in_channels, model_name="TinyVGG", image_size=self.image_size)
        return self.classifier(self.block_2(self.block_1(images)))


class LeNet5(nn.Module):
    """LeCun et al.'s LeNet-5 (1998) with a modern default activation.

    conv5×5 (6 maps) → activation → pool → conv5×5 (16 maps) → activation → pool →
    Linear 120 → Linear 84 → Linear ``num_classes``. The first convolution uses
    padding 2, so a 28×28 image behaves like the original's 32×32 input and the
    last feature maps are 16×5×5. Other sizes work too (``image_size``, at least
    12×12); the first Linear layer's input size is computed from it.

    ``activation="relu"`` (default) uses ReLU and max pooling, which train faster
    with today's optimisers; ``activation="tanh"`` gives the 1998 flavour: tanh
    and average pooling ("subsampling").

    Taught in lesson 03.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        *,
        image_size: int | Sequence[int] = (28, 28),
        activation: str = "relu",
    ) -> None:
        super().__init__()
        require_positive_int("in_channels", in_channels)
        require_positive_int("num_classes", num_classes)
        require_choice("activation", activation, ("relu", "tanh"))
        self.image_size = _image_size_pair("image_size", image_size, minimum=12)
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.activation = activation

        def act() -> nn.Module:
            return nn.ReLU() if activation == "relu" else nn.Tanh()

        def pool() -> nn.Module:
            return nn.MaxPool2d(2) if activation == "relu" else nn.AvgPool2d(2)

        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2),
            act(),
            pool(),
            nn.Conv2d(6, 16, kernel_size=5),
            act(),
            pool(),
        )
        height, width = self.image_size
        self.flat_features = 16 * ((height // 2 - 4) // 2) * ((width // 2 - 4) // 2)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(self.flat_features, 120),
            act(),
            nn.Linear(120, 84),
            act(),
            nn.Linear(84, num_classes),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Map a batch N×C×H×W of the configured size to logits N×num_classes."""
        _check_images(images, self.in_channels, model_name="LeNet5", image_size=self.image_size)
        return self.classifier(self.features(images))


class ResidualBlock(nn.Module):
    """A ResNet "basic block": two 3×3 convolutions with batch norm, plus a shortcut.

    output = ReLU(BN(conv(ReLU(BN(conv(x))))) + shortcut(x)). The shortcut is the
    identity when the shape does not change; when ``out_channels`` differs from
    ``channels`` or ``stride`` > 1 it is a 1×1 convolution with batch norm (a
    "projection") so the two branches can be added. The convolutions have no bias
    because the batch norm that follows has its own.

    Taught in lesson 04.
    """

    def __init__(self, channels: int, out_channels: int | None = None, stride: int = 1) -> None:
        super().__init__()
        require_positive_int("channels", channels)
        if out_channels is not None:
            require_positive_int("out_channels", out_channels)
        require_positive_int("stride", stride)
        out_channels = channels if out_channels is None else out_channels
        self.in_channels = channels
        self.out_channels = out_channels
        self.stride = stride
        self.conv1 = nn.Conv2d(channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module
        if stride != 1 or out_channels != channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Map N×channels×H×W to N×out_channels×ceil(H/stride)×ceil(W/stride)."""
        _check_images(images, self.in_channels, model_name="ResidualBlock")
        out = self.relu(self.bn1(self.conv1(images)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(images))


class SmallCNN(nn.Module):
    """A small residual network with batch norm for the "going further" lesson.

    stem (conv3×3 with ``width`` maps, batch norm, ReLU) → stage 1 →
    stage 2 → global average pooling → dropout → Linear. Each stage starts with
    a ``ResidualBlock`` that halves height and width and doubles the channels
    (``2·width``, then ``4·width``), followed by ``blocks_per_stage - 1`` blocks
    that keep the shape. Downsampling early keeps it cheap: with the defaults it
    has about 290,000 parameters and needs about 23 million multiply-adds per
    28×28 image (TinyVGG with 24 channels: 6 million). Global average pooling
    makes it independent of the image size, so no ``image_size`` is needed.

    Taught in lesson 04.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        width: int = 32,
        *,
        blocks_per_stage: int = 1,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        require_positive_int("in_channels", in_channels)
        require_positive_int("num_classes", num_classes)
        require_positive_int("width", width)
        require_positive_int("blocks_per_stage", blocks_per_stage)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {describe(dropout)}")
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.width = width
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        )
        blocks: list[nn.Module] = []
        channels = width
        for _stage in range(2):
            blocks.append(ResidualBlock(channels, 2 * channels, stride=2))
            channels *= 2
            blocks += [ResidualBlock(channels) for _ in range(blocks_per_stage - 1)]
        self.stages = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(channels, num_classes),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Map a batch N×C×H×W (any height and width) to logits N×num_classes."""
        _check_images(images, self.in_channels, model_name="SmallCNN")
        return self.classifier(self.stages(self.stem(images)))
