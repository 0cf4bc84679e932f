"""Tests for course_utils.plotting: every figure renders headless to a PNG, bad input fails clearly."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt  # headless: tests/conftest.py sets MPLBACKEND=Agg
import numpy as np
import pytest
import torch
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from PIL import Image

from course_utils.charts import plot_confusion_matrix, plot_history
from course_utils.plotting import (
    RIGHT_COLOR,
    WRONG_COLOR,
    show_augmentations,
    show_batch,
    show_images,
    show_predictions,
)

NAMES = ["cat", "dog", "fox"]


def save_png(fig: Figure, tmp_path, name: str = "figure.png") -> None:
    """Render the figure to a PNG file and check that a real image came out."""
    assert isinstance(fig, Figure)
    path = tmp_path / name
    fig.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as png:
        width, height = png.size
    assert (width, height) == (round(fig.get_figwidth() * fig.dpi), round(fig.get_figheight() * fig.dpi))
    assert width > 50 and height > 50


def image_axes(fig: Figure):
    return [ax for ax in fig.axes if ax.images]


def titles(fig: Figure) -> list[str]:
    return [ax.get_title() for ax in image_axes(fig)]


@pytest.fixture(autouse=True)
def no_pyplot_leaks():
    before = len(plt.get_fignums())
    yield
    assert len(plt.get_fignums()) == before, "figures must be closed in pyplot before they are returned"


# ---------------------------------------------------------------- show_images


def test_show_images_uint8_batch_grid_layout(tmp_path):
    images = torch.randint(0, 256, (10, 1, 8, 8), dtype=torch.uint8)
    fig = show_images(images, titles=[f"#{i}" for i in range(10)], ncols=4)
    save_png(fig, tmp_path)
    assert len(fig.axes) == 12  # 3 rows × 4 columns, two left empty
    assert len(image_axes(fig)) == 10
    assert titles(fig)[3] == "#3"
    shown = image_axes(fig)[0].images[0].get_array()
    np.testing.assert_allclose(np.asarray(shown), images[0, 0].numpy() / 255, rtol=1e-6)


def test_show_images_undoes_normalisation(tmp_path):
    mean, std = [0.5, 0.4, 0.3], [0.2, 0.2, 0.2]
    original = torch.rand(2, 3, 5, 5)
    normalised = (original - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no clipping warning: the values are back in [0, 1]
        fig = show_images(normalised, mean=mean, std=std)
    save_png(fig, tmp_path)
    shown = np.asarray(image_axes(fig)[1].images[0].get_array())
    np.testing.assert_allclose(shown, original[1].permute(1, 2, 0).numpy(), atol=1e-5)


def test_show_images_warns_when_normalised_images_are_clipped(tmp_path):
    with pytest.warns(UserWarning, match="pass mean= and std= to undo it"):
        fig = show_images(torch.randn(2, 1, 4, 4) * 3)
    save_png(fig, tmp_path)


def test_show_images_accepts_numpy_pil_and_single_tensors(tmp_path):
    photos = [
        np.random.randint(0, 256, (6, 7, 3), dtype=np.uint8),
        np.random.rand(6, 7).astype(np.float32),
        np.random.randint(0, 256, (6, 7, 4), dtype=np.uint8),  # RGBA: alpha dropped
        Image.fromarray(np.zeros((5, 5, 3), dtype=np.uint8)),
        torch.rand(3, 4, 4),
    ]
    fig = show_images(photos, titles=["a", "b", "c", "d", "e"])
    save_png(fig, tmp_path)
    assert titles(fig) == ["a", "b", "c", "d", "e"]
    assert len(image_axes(show_images(torch.rand(1, 6, 6)))) == 1
    assert len(image_axes(show_images(np.zeros((3, 4, 4, 3), dtype=np.uint8)))) == 3
    assert len(image_axes(show_images(np.zeros((4, 4, 3), dtype=np.uint8)))) == 1


def test_show_images_limits_the_number_drawn(tmp_path):
    fig = show_images(torch.zeros(20, 1, 4, 4), max_images=6)
    save_png(fig, tmp_path)
    assert len(image_axes(fig)) == 6
    assert "showing the first 6 of 20 images" in fig._suptitle.get_text()


@pytest.mark.parametrize(
    ("images", "kwargs", "error", "message"),
    [
        (torch.zeros(2, 2, 4, 4), {}, ValueError, r"images: expected 1 or 3 channel\(s\) in dimension 1"),
        (torch.zeros(5, 4, 4), {}, ValueError, r"images\.unsqueeze\(1\)"),
        (torch.zeros(2, 1, 4, 4, dtype=torch.int32), {}, TypeError, "images: expected uint8 or floating-point pixels"),
        ([], {}, ValueError, "images: expected at least one image"),
        ("cat.png", {}, TypeError, "images: expected a tensor N×C×H×W or a list of images"),
        ([np.zeros((4, 4, 2))], {}, ValueError, r"images\[0\]: expected an H×W or H×W×C array"),
        ([np.array([["a"]])], {}, TypeError, r"images\[0\]: expected an integer or floating-point array"),
        ([np.zeros((2, 2), dtype=object)], {}, TypeError, r"images\[0\]: expected an integer or floating-point array"),
        ([[0.0, 1.0]], {}, TypeError, r"images\[0\]: expected a tensor C×H×W"),
        (
            torch.zeros(2, 1, 4, 4),
            {"titles": ["one"]},
            ValueError,
            r"titles: expected 2 titles \(one per image\), got 1",
        ),
        (torch.zeros(2, 1, 4, 4), {"titles": "ab"}, TypeError, "titles: expected a sequence of 2 titles"),
        (torch.zeros(2, 1, 4, 4), {"mean": [0.5]}, ValueError, "mean/std: expected both or neither"),
        (torch.zeros(2, 3, 4, 4), {"mean": [0.5, 0.5], "std": [1, 1]}, ValueError, "std: expected 1 or 3 values"),
        (torch.zeros(2, 1, 4, 4), {"ncols": 0}, ValueError, "ncols: expected an integer >= 1"),
        (torch.zeros(2, 1, 4, 4), {"max_images": 0}, ValueError, "max_images: expected an integer >= 1"),
    ],
)
def test_show_images_rejects_bad_input(images, kwargs, error, message):
    with pytest.raises(error, match=message):
        show_images(images, **kwargs)


def test_show_images_accepts_bool_masks(tmp_path):
    save_png(show_images(torch.zeros(1, 1, 4, 4, dtype=torch.bool)), tmp_path)


# ---------------------------------------------------------------- show_batch


def test_show_batch_titles_are_class_names(tmp_path):
    fig = show_batch(torch.rand(4, 3, 6, 6), torch.tensor([2, 0, 1, 2]), NAMES, ncols=2)
    save_png(fig, tmp_path)
    assert titles(fig) == ["fox", "cat", "dog", "fox"]
    assert titles(show_batch(torch.rand(2, 1, 4, 4), torch.tensor([1, 0]), None)) == ["1", "0"]


def test_show_batch_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="labels: expected 3 labels"):
        show_batch(torch.rand(3, 1, 4, 4), torch.tensor([0, 1]), NAMES)
    with pytest.raises(
        ValueError, match=r"labels: expected class indices in \[0, 2\] for 3 classes, got values from 0 to 5"
    ):
        show_batch(torch.rand(2, 1, 4, 4), torch.tensor([0, 5]), NAMES)
    with pytest.raises(TypeError, match="class_names: expected a non-empty sequence of names"):
        show_batch(torch.rand(2, 1, 4, 4), torch.tensor([0, 1]), "cat dog")


# ---------------------------------------------------------------- show_augmentations


def test_show_augmentations_draws_original_and_n_augmented(tmp_path):
    calls = []

    def flip(image: torch.Tensor) -> torch.Tensor:
        calls.append(image.shape)
        return image.flip(-1)

    image = torch.arange(16, dtype=torch.uint8).view(1, 4, 4)
    fig = show_augmentations(image, flip, n=3)
    save_png(fig, tmp_path)
    assert len(calls) == 3
    assert titles(fig) == ["original", "augmented 1", "augmented 2", "augmented 3"]
    shown = np.asarray(image_axes(fig)[1].images[0].get_array())
    np.testing.assert_allclose(shown, image[0].flip(-1).numpy() / 255, rtol=1e-6)


def test_show_augmentations_with_torchvision_transforms_numpy_and_pil(tmp_path):
    from torchvision.transforms import v2

    photo = np.random.randint(0, 256, (12, 12, 3), dtype=np.uint8)
    transform = v2.Compose(
        [
            v2.RandomResizedCrop(8, antialias=True),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize([0.5] * 3, [0.25] * 3),
        ]
    )
    fig = show_augmentations(photo, transform, n=4, ncols=3, mean=[0.5] * 3, std=[0.25] * 3)
    save_png(fig, tmp_path)
    assert len(image_axes(fig)) == 5
    pil_fig = show_augmentations(Image.fromarray(photo), v2.RandomHorizontalFlip(), n=2)
    save_png(pil_fig, tmp_path, "pil.png")
    gray = show_augmentations(np.zeros((6, 6), dtype=np.float32), lambda image: image, n=1)
    assert len(image_axes(gray)) == 2


def test_show_augmentations_rejects_bad_arguments():
    image = torch.zeros(1, 4, 4)
    with pytest.raises(TypeError, match="transform: expected a callable"):
        show_augmentations(image, "flip", n=2)
    with pytest.raises(ValueError, match="n: expected an integer >= 1"):
        show_augmentations(image, lambda x: x, n=0)
    with pytest.raises(ValueError, match=r"transform\(image\) result 0: expected an image C×H×W"):
        show_augmentations(image, lambda x: x.unsqueeze(0), n=1)
    with pytest.raises(ValueError, match="image: expected an image C×H×W with 1 or 3 channels"):
        show_augmentations(torch.zeros(2, 4, 4), lambda x: x)


# ---------------------------------------------------------------- plot_history


class FakeHistory:
    """Stands in for course_utils.checkpoints.History: only to_dict() is used."""

    def to_dict(self):
        return {
            "train_loss": [1.0, 0.6, 0.4],
            "train_acc": [0.6, 0.8, 0.9],
            "val_loss": [0.9, 0.7, 0.75],
            "val_acc": [0.65, 0.82, 0.80],
            "lr": [0.1, 0.05, 0.01],
        }


def test_plot_history_from_an_object_with_to_dict(tmp_path):
    fig = plot_history(FakeHistory())
    save_png(fig, tmp_path)
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_ylabel() == "loss" and acc_ax.get_ylabel().startswith("accuracy")
    train_line, val_line = loss_ax.get_lines()[:2]
    assert list(train_line.get_xdata()) == [1, 2, 3]
    assert list(val_line.get_ydata()) == [0.9, 0.7, 0.75]
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == ["train", "validation"]
    assert "best 0.820 (epoch 2)" in [t.get_text() for t in acc_ax.texts]


def test_plot_history_with_the_real_history_class(tmp_path):
    checkpoints = pytest.importorskip("course_utils.checkpoints")
    history = checkpoints.History(train_loss=[0.9, 0.5], train_acc=[0.7, 0.85], val_loss=[0.8, 0.6], val_acc=[0.75, 0.8])
    save_png(plot_history(history), tmp_path)


def test_plot_history_from_a_dict_without_validation(tmp_path):
    fig = plot_history({"train_loss": [1.0, 0.5], "train_acc": [0.5, 0.7], "val_loss": [], "val_acc": []})
    save_png(fig, tmp_path)
    assert all(len(ax.get_lines()) == 1 for ax in fig.axes)
    loss_only = plot_history({"train_loss": [1.0, 0.5, None]})
    assert len(loss_only.axes) == 1
    save_png(loss_only, tmp_path, "loss_only.png")


@pytest.mark.parametrize(
    ("history", "error", "message"),
    [
        ([1.0, 0.5], TypeError, "history: expected a dict with train_loss"),
        ({"train_loss": []}, ValueError, "history: expected a non-empty 'train_loss' list"),
        (
            {"train_loss": [1.0], "train_acc": [91.0]},
            ValueError,
            r"history\['train_acc'\]: expected accuracies as fractions in \[0, 1\]",
        ),
        ({"train_loss": "1.0"}, TypeError, r"history\['train_loss'\]: expected a list of numbers"),
        ({"train_loss": [1.0, "x"]}, TypeError, r"history\['train_loss'\]: expected a list of numbers"),
    ],
)
def test_plot_history_rejects_bad_input(history, error, message):
    with pytest.raises(error, match=message):
        plot_history(history)


# ---------------------------------------------------------------- plot_confusion_matrix


def test_plot_confusion_matrix_counts_and_labels(tmp_path):
    confusion = torch.tensor([[5, 1, 0], [2, 7, 1], [0, 0, 9]])
    fig = plot_confusion_matrix(confusion, NAMES)
    save_png(fig, tmp_path)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == NAMES
    assert [t.get_text() for t in ax.get_yticklabels()] == NAMES
    assert ax.get_xlabel() == "predicted label" and ax.get_ylabel() == "true label"
    cell_texts = [t.get_text() for t in ax.texts]
    assert cell_texts == ["5", "1", "0", "2", "7", "1", "0", "0", "9"]


def test_plot_confusion_matrix_normalised_rows_and_numpy_input(tmp_path):
    confusion = np.array([[3, 1], [0, 0]])  # an empty row must not crash or warn
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot_confusion_matrix(confusion, normalize=True)
    save_png(fig, tmp_path)
    assert [t.get_text() for t in fig.axes[0].texts][:2] == ["0.75", "0.25"]


@pytest.mark.parametrize(
    ("confusion", "kwargs", "error", "message"),
    [
        (torch.zeros(2, 3, dtype=torch.int64), {}, ValueError, "confusion: expected a square C×C matrix"),
        (torch.zeros(2, 2), {}, TypeError, "confusion: expected integer counts"),
        (torch.tensor([[1, -1], [0, 1]]), {}, ValueError, "confusion: expected counts >= 0"),
        (
            torch.zeros(2, 2, dtype=torch.int64),
            {"class_names": NAMES},
            ValueError,
            r"class_names: expected 2 names .* got 3",
        ),
        (
            torch.zeros(2, 2, dtype=torch.int64),
            {"class_names": "ab"},
            TypeError,
            "class_names: expected a sequence of 2 names",
        ),
        (torch.zeros(2, 2, dtype=torch.int64), {"normalize": "rows"}, TypeError, "normalize: expected True or False"),
    ],
)
def test_plot_confusion_matrix_rejects_bad_input(confusion, kwargs, error, message):
    with pytest.raises(error, match=message):
        plot_confusion_matrix(confusion, **kwargs)


# ---------------------------------------------------------------- show_predictions


def test_show_predictions_colours_right_green_and_wrong_red(tmp_path):
    probs = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]])
    preds = probs.argmax(1)
    targets = torch.tensor([0, 1, 1])
    fig = show_predictions(torch.rand(3, 1, 5, 5), preds, targets, NAMES, probs=probs)
    save_png(fig, tmp_path)
    assert titles(fig) == ["pred: cat (70%)\ntrue: cat", "pred: fox (60%)\ntrue: dog", "pred: dog (50%)\ntrue: dog"]
    colours = [to_hex(ax.title.get_color()) for ax in image_axes(fig)]
    assert colours == [RIGHT_COLOR, WRONG_COLOR, RIGHT_COLOR]


def test_show_predictions_with_confidences_and_without_probs(tmp_path):
    images = torch.rand(2, 3, 4, 4)
    fig = show_predictions(images, torch.tensor([1, 0]), torch.tensor([1, 1]), NAMES, probs=torch.tensor([0.9, 0.4]))
    save_png(fig, tmp_path)
    assert titles(fig) == ["pred: dog (90%)\ntrue: dog", "pred: cat (40%)\ntrue: dog"]
    plain = show_predictions(images, torch.tensor([1, 0]), torch.tensor([1, 1]), None, max_images=1)
    assert titles(plain) == ["pred: 1\ntrue: 1"]


def test_show_predictions_rejects_mismatches():
    images = torch.rand(2, 1, 4, 4)
    preds, targets = torch.tensor([0, 1]), torch.tensor([0, 0])
    with pytest.raises(ValueError, match="targets: expected 2 labels"):
        show_predictions(images, preds, torch.tensor([0]), NAMES)
    with pytest.raises(ValueError, match=r"probs: expected 2 rows \(one per image\), got 3"):
        show_predictions(images, preds, targets, NAMES, probs=torch.rand(3, 3))
    with pytest.raises(ValueError, match=r"probs: expected 3 columns \(one per class\), got 4"):
        show_predictions(images, preds, targets, NAMES, probs=torch.rand(2, 4))
    with pytest.raises(ValueError, match="preds: expected class indices below 1"):
        show_predictions(images, preds, targets, None, probs=torch.rand(2, 1))
    with pytest.raises(TypeError, match="probs: expected dtype"):
        show_predictions(images, preds, targets, NAMES, probs=torch.ones(2, 3, dtype=torch.int64))


# ---------------------------------------------------------------- lesson 02: describe_image, unnormalize, show_rows


def test_describe_image_for_pil_tensors_and_arrays():
    from course_utils.plotting import describe_image

    assert describe_image(Image.new("RGB", (30, 20))) == "PIL.Image 30×20 (W×H), mode RGB"
    assert describe_image(Image.new("L", (5, 7))) == "PIL.Image 5×7 (W×H), mode L"
    image = torch.tensor([[[0, 255], [7, 12]]], dtype=torch.uint8)
    assert describe_image(image) == "Tensor (1, 2, 2) torch.uint8, values 0 … 255"
    assert describe_image(np.array([[0.5, -1.25]], dtype=np.float32)) == "ndarray (1, 2) float32, values -1.25 … 0.5"
    assert describe_image(torch.full((3, 2, 2), 1 / 3)) == "Tensor (3, 2, 2) torch.float32, values 0.333 … 0.333"
    with pytest.raises(TypeError, match="image: expected a PIL image, a tensor or a NumPy array, got list"):
        describe_image([1, 2])
    with pytest.raises(ValueError, match="image: expected a non-empty image"):
        describe_image(torch.zeros(3, 0, 4))


def test_unnormalize_undoes_normalize_for_one_image_and_a_batch():
    from torchvision.transforms import v2

    from course_utils.plotting import unnormalize

    mean, std = [0.5, 0.25, 0.125], [0.5, 2.0, 4.0]
    image = torch.rand(3, 5, 4, generator=torch.Generator().manual_seed(0))
    normalised = v2.Normalize(mean, std)(image)
    torch.testing.assert_close(unnormalize(normalised, mean, std), image)
    batch = torch.stack([normalised, normalised.flip(-1)])
    torch.testing.assert_close(unnormalize(batch, torch.tensor(mean), tuple(std)), torch.stack([image, image.flip(-1)]))
    # by hand: one channel, one value for all channels, float64 kept
    out = unnormalize(torch.tensor([[[-1.0, 0.0, 2.0]]], dtype=torch.float64), [0.25], [0.5])
    assert out.dtype == torch.float64 and out.tolist() == [[[-0.25, 0.25, 1.25]]]
    assert unnormalize(torch.zeros(3, 1, 1), [0.5], [2.0]).flatten().tolist() == [0.5, 0.5, 0.5]
    assert normalised.equal(v2.Normalize(mean, std)(image))  # the input is not modified


@pytest.mark.parametrize(
    "images, mean, std, error, message",
    [
        (torch.zeros(3, 4, 4, dtype=torch.uint8), [0.5] * 3, [0.2] * 3, TypeError, "images: expected a floating-point"),
        (torch.zeros(4, 4), [0.5], [0.2], ValueError, "images: expected a 3 or 4-dimensional tensor"),
        (np.zeros((3, 4, 4)), [0.5], [0.2], TypeError, "images: expected a torch.Tensor"),
        (torch.zeros(3, 4, 4), [0.5, 0.5], [0.2] * 3, ValueError, "mean: expected 1 or 3 values .one per channel.,"),
        (torch.zeros(2, 1, 4, 4), [0.5], [0.2, 0.3], ValueError, "std: expected 1 value for 1 channel, got 2"),
        (torch.zeros(3, 4, 4), [0.5] * 3, [0.2, 0.0, 0.1], ValueError, r"std: expected finite values > 0"),
        (torch.zeros(3, 4, 4), [0.5, float("nan"), 0.1], [0.2] * 3, ValueError, "mean: expected finite values"),
        (torch.zeros(3, 4, 4), None, [0.2] * 3, TypeError, "mean: expected one number per channel"),
    ],
)
def test_unnormalize_rejects_bad_input(images, mean, std, error, message):
    from course_utils.plotting import unnormalize

    with pytest.raises(error, match=message):
        unnormalize(images, mean, std)


def test_show_rows_one_row_per_entry_with_names_and_titles(tmp_path):
    from course_utils.plotting import show_rows

    grey = torch.randint(0, 256, (3, 1, 6, 6), dtype=torch.uint8)
    colour = [torch.rand(3, 5, 7), np.zeros((5, 7, 3), dtype=np.uint8)]
    fig = show_rows({"grey\nrow": grey, "colour": colour}, titles={"colour": ["a", "b"]}, size=1.0)
    save_png(fig, tmp_path)
    assert len(fig.axes) == 6  # 2 rows × 3 columns (the longest row)
    assert len(image_axes(fig)) == 5  # the colour row has an empty third slot
    assert [fig.axes[i].get_ylabel() for i in (0, 3)] == ["grey\nrow", "colour"]
    assert [ax.get_title() for ax in fig.axes] == ["", "", "", "a", "b", ""]
    np.testing.assert_allclose(np.asarray(fig.axes[0].images[0].get_array()), grey[0, 0].numpy() / 255, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(fig.axes[3].images[0].get_array()), colour[0].permute(1, 2, 0).numpy())
    assert fig.get_size_inches().tolist() == pytest.approx([3 * 1.0 + 1.2, 2 * 1.0 * 1.08])


def test_show_rows_clips_values_outside_zero_to_one():
    from course_utils.plotting import show_rows

    fig = show_rows({"noisy": [torch.tensor([[[-0.5, 0.25, 1.5]]])]})
    assert np.asarray(fig.axes[0].images[0].get_array()).tolist() == [[0.0, 0.25, 1.0]]


@pytest.mark.parametrize(
    "rows, kwargs, error, message",
    [
        ({}, {}, TypeError, "rows: expected a non-empty dict"),
        ([torch.zeros(1, 4, 4)], {}, TypeError, "rows: expected a non-empty dict"),
        ({"a": []}, {}, TypeError, r"rows\['a'\]: expected a non-empty list of images"),
        ({"a": torch.zeros(1, 4, 4)}, {}, TypeError, r"rows\['a'\]: expected a non-empty list of images"),
        ({"a": [torch.zeros(2, 4, 4)]}, {}, ValueError, r"rows\['a'\]\[0\]: expected an image C×H×W with 1 or 3"),
        ({"a": [torch.zeros(1, 4, 4)]}, {"titles": {"b": ["x"]}}, ValueError, "titles: expected names of rows"),
        ({"a": [torch.zeros(1, 4, 4)]}, {"titles": {"a": ["x", "y"]}}, ValueError, r"titles\['a'\]: expected 1 titles"),
        ({"a": [torch.zeros(1, 4, 4)]}, {"titles": ["x"]}, TypeError, "titles: expected a dict"),
        ({"a": [torch.zeros(1, 4, 4)]}, {"size": 0}, ValueError, "size: expected inches per picture"),
    ],
)
def test_show_rows_rejects_bad_input(rows, kwargs, error, message):
    from course_utils.plotting import show_rows

    with pytest.raises(error, match=message):
        show_rows(rows, **kwargs)
