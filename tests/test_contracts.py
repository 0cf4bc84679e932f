"""The bad-input contract of course_utils (issue 17): every public function, every kind of bad input.

Each row calls one public function with valid arguments except one bad value and requires a clear
error: a ``TypeError``, ``ValueError`` or ``FileNotFoundError`` whose message names the argument
(``"<name>: expected ..., got ..."``). Nothing may come back silently: a call that returns is a
failure. ``test_every_public_function_has_a_contract`` keeps the table complete.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import course_utils as cu

NAN = float("nan")


def _images(n: int = 4, c: int = 1, size: int = 8, dtype: torch.dtype = torch.uint8) -> torch.Tensor:
    return torch.randint(0, 256, (n, c, size, size), generator=torch.Generator().manual_seed(0)).to(dtype)


def _labels(n: int = 4, classes: int = 2) -> torch.Tensor:
    return torch.arange(n) % classes


def _loader(n: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(torch.randn(n, 3), _labels(n))]


def _model(outputs: int = 2) -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, outputs))


class _Classifier(nn.Module):
    """A backbone and an ``fc`` head, the layout of torchvision's ResNets."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.backbone(x))


def _optimizer(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.1)


_CARD = {
    "architecture": "TinyVGG",
    "class_names": ("a", "b"),
    "image_size": (28, 28),
    "channels": 1,
    "mean": (0.5,),
    "std": (0.25,),
    "arguments": {"hidden_channels": 2, "num_classes": 2},
    "resize": "pad",
}


@dataclass
class Contract:
    """``call(**overrides)`` calls the function with valid arguments, except the overridden ones."""

    name: str  # "module.function"
    call: Callable[..., Any]
    bad: list[tuple[Any, ...]]  # (argument, bad value, exception type[, the name the message must start with])


def _contracts(tmp: Path) -> list[Contract]:
    model2 = _model()
    emb = torch.randn(4, 8)
    return [
        # runtime
        Contract(
            "runtime.get_device",
            lambda **k: cu.get_device(**{"prefer": None, **k}),
            [("prefer", "tpu", ValueError), ("prefer", 3, ValueError)],
        ),
        Contract(
            "runtime.precision_policy",
            lambda **k: cu.precision_policy(**{"device": "cpu", **k}),
            [("device", "gpu0", ValueError), ("device", 3.5, ValueError)],
        ),
        Contract(
            "runtime.seed_everything",
            lambda **k: cu.seed_everything(**{"seed": 0, **k}),
            [("seed", -1, ValueError), ("seed", 1.5, TypeError), ("seed", "1", TypeError)],
        ),
        # image_io
        Contract(
            "image_io.decode_image",
            lambda **k: cu.decode_image(**{"path": tmp / "img.png", **k}),
            [
                ("path", tmp / "missing.png", FileNotFoundError),
                ("mode", "CMYK", ValueError),
                ("path", tmp, FileNotFoundError),
            ],
        ),
        Contract(
            "image_io.encode_png",
            lambda **k: cu.encode_png(**{"image": _images(1, 3)[0], "path": tmp / "o.png", **k}),
            [
                ("image", _images(1, 3)[0].float(), TypeError),
                ("image", _images(1, 3), ValueError),
                ("image", _images(1, 2)[0], ValueError),
                ("path", tmp / "no" / "o.png", FileNotFoundError),
            ],
        ),
        # datasets
        Contract(
            "datasets.channel_stats",
            lambda **k: cu.channel_stats(**{"images": _images(), **k}),
            [
                ("images", _images()[0], ValueError),
                ("images", torch.zeros(0, 1, 8, 8), ValueError),
                ("images", [[1, 2]], TypeError),
                ("batch_size", 0, ValueError),
                ("images", torch.full((2, 1, 4, 4), NAN), ValueError),
            ],
        ),
        Contract(
            "datasets.sample_photo",
            lambda **k: cu.sample_photo(**{"name": "coffee", **k}),
            [("name", "kitten", ValueError), ("name", 3, ValueError)],
        ),
        Contract(
            "datasets.digits_tensors",
            lambda **k: cu.digits_tensors(**{"size": 8, **k}),
            [("size", 0, ValueError), ("size", 2.5, TypeError)],
        ),
        Contract(
            "datasets.faces_tensors", lambda **k: cu.faces_tensors(**{"size": 8, **k}), [("size", -3, ValueError)]
        ),
        Contract(
            "datasets.data_dir",
            lambda **k: cu.data_dir(**{"root": tmp, **k}),
            [("root", tmp / "img.png", NotADirectoryError)],
        ),
        # splits
        Contract(
            "splits.stratified_split",
            lambda **k: cu.stratified_split(**{"labels": _labels(20), "fractions": (0.5, 0.5), **k}),
            [
                ("labels", _labels(20).float(), TypeError),
                ("labels", torch.tensor([0, -1]), ValueError),
                ("fractions", (0.5, 0.6), ValueError),
                ("fractions", (), ValueError),
                ("fractions", (1.5, -0.5), ValueError),
                ("labels", _labels(20).reshape(4, 5), ValueError),
            ],
        ),
        Contract(
            "splits.per_class_subset",
            lambda **k: cu.per_class_subset(**{"labels": _labels(20), "k": 2, **k}),
            [
                ("k", 0, ValueError),
                ("k", 11, ValueError),
                ("labels", torch.tensor([]), ValueError),
                ("pool", torch.tensor([99]), ValueError),
            ],
        ),
        # image_folders
        Contract(
            "image_folders.export_image_folder",
            lambda **k: cu.export_image_folder(
                **{"images": _images(), "labels": _labels(), "class_names": ["a", "b"], "root": tmp / "tree", **k}
            ),
            [
                ("images", _images().float(), TypeError),
                ("labels", _labels(3), ValueError),
                ("labels", torch.tensor([0, 1, 2, 0]), ValueError),
                ("fmt", "gif", ValueError),
                ("per_class", 0, ValueError),
                ("images", _images(4, 2), ValueError),
            ],
        ),
        Contract(
            "image_folders.photo_standin_folder",
            lambda **k: cu.image_folders.photo_standin_folder(**{"root": tmp / "st", "per_class": (1, 1, 1), **k}),
            [
                ("per_class", (1, 1), ValueError),
                ("per_class", (1, 0, 1), ValueError),
                ("image_size", 8, ValueError),
                ("seed", -1, ValueError),
            ],
        ),
        Contract(
            "image_folders.pet_image_folder",
            lambda **k: cu.pet_image_folder(**{"root": tmp / "pets", **k}),
            [
                ("classes", ["Beagle"], ValueError),
                ("classes", ["Beagle", "Poodle"], ValueError),
                ("classes", ["Pug", "Pug"], ValueError),
                ("val_fraction", 1.0, ValueError),
                ("per_class", (1, 2), ValueError),
                ("image_size", 0, ValueError),
            ],
        ),
        # hygiene
        Contract(
            "hygiene.image_files",
            lambda **k: cu.image_files(**{"folder": tmp, **k}),
            [("folder", tmp / "missing", FileNotFoundError), ("folder", tmp / "img.png", FileNotFoundError)],
        ),
        Contract(
            "hygiene.file_digest",
            lambda **k: cu.hygiene.file_digest(**{"path": tmp / "img.png", **k}),
            [("path", tmp / "missing.png", FileNotFoundError)],
        ),
        Contract(
            "hygiene.find_duplicate_files",
            lambda **k: cu.find_duplicate_files(
                **{"files": [tmp / "img.png"], "reference_files": [tmp / "img.png"], **k}
            ),
            [
                ("files", [tmp / "missing.png"], FileNotFoundError),
                ("reference_files", [tmp / "gone.png"], FileNotFoundError),
            ],
        ),
        # loaders
        Contract(
            "loaders.TensorLoader",
            lambda **k: cu.TensorLoader(**{"images": _images(), "labels": _labels(), **k}),
            [
                ("labels", _labels(3), ValueError),
                ("batch_size", 0, ValueError),
                ("images", [1, 2], TypeError),
                ("labels", _labels().float(), TypeError),
            ],
        ),
        Contract(
            "loaders.TransformedDataset",
            lambda **k: cu.TransformedDataset(**{"dataset": [(1, 0)], "transform": None, **k}),
            [("transform", 3, TypeError), ("dataset", 5, TypeError)],
        ),
        Contract(
            "loaders.make_dataloaders",
            lambda **k: cu.make_dataloaders(**{"train_data": [(1, 0)], "test_data": [(1, 0)], **k}),
            [("batch_size", 0, ValueError), ("train_transform", "flip", TypeError), ("num_workers", -1, ValueError)],
        ),
        # augment
        Contract(
            "augment.random_hflip",
            lambda **k: cu.random_hflip(**{"images": _images(), **k}),
            [("p", 1.5, ValueError), ("p", NAN, ValueError), ("images", _images()[0, 0], ValueError)],
        ),
        # models
        Contract(
            "models.FashionMLP",
            lambda **k: cu.FashionMLP(**k),
            [
                ("in_features", 0, ValueError),
                ("hidden", (8, -1), ValueError),
                ("dropout", 1.0, ValueError),
                ("num_classes", 1.5, TypeError),
            ],
        ),
        Contract(
            "models.LeNet5",
            lambda **k: cu.LeNet5(**k),
            [("image_size", 8, ValueError), ("activation", "swish", ValueError), ("in_channels", 0, ValueError)],
        ),
        Contract(
            "models.ResidualBlock",
            lambda **k: cu.ResidualBlock(**{"channels": 4, **k}),
            [("channels", 0, ValueError), ("stride", 0, ValueError), ("out_channels", -2, ValueError)],
        ),
        Contract(
            "models.SmallCNN",
            lambda **k: cu.SmallCNN(**k),
            [("width", 0, ValueError), ("dropout", -0.1, ValueError), ("blocks_per_stage", 0, ValueError)],
        ),
        Contract(
            "models.TinyVGG",
            lambda **k: cu.TinyVGG(**k),
            [("image_size", 2, ValueError), ("hidden_channels", 0, ValueError), ("image_size", (28,), ValueError)],
        ),
        Contract(
            "models.count_parameters",
            lambda **k: cu.count_parameters(**{"model": model2, **k}),
            [("model", "resnet", TypeError), ("model", torch.zeros(3), TypeError)],
        ),
        # transfer
        Contract(
            "transfer.find_head",
            lambda **k: cu.find_head(**{"model": _Classifier(), **k}),
            [("model", nn.ReLU(), ValueError), ("model", "model", TypeError)],
        ),
        Contract(
            "transfer.replace_head",
            lambda **k: cu.replace_head(**{"model": _Classifier(), "num_classes": 3, **k}),
            [("num_classes", 0, ValueError), ("num_classes", 2.0, TypeError), ("model", nn.ReLU(), ValueError)],
        ),
        Contract(
            "transfer.freeze",
            lambda **k: cu.transfer.freeze(**{"module": _Classifier(), **k}),
            [("module", [1], TypeError)],
        ),
        Contract(
            "transfer.unfreeze",
            lambda **k: cu.unfreeze(**{"module": _Classifier(), **k}),
            [("module", None, TypeError)],
        ),
        Contract(
            "transfer.freeze_backbone",
            lambda **k: cu.freeze_backbone(**{"model": _Classifier(), **k}),
            [("model", nn.ReLU(), ValueError)],
        ),
        Contract(
            "transfer.param_groups",
            lambda **k: cu.param_groups(**{"model": _Classifier(), "head_lr": 0.1, "backbone_lr": 0.01, **k}),
            [("head_lr", 0.0, ValueError), ("backbone_lr", NAN, ValueError), ("weight_decay", -1.0, ValueError)],
        ),
        Contract(
            "transfer.discriminative_param_groups",
            lambda **k: cu.discriminative_param_groups(
                **{"model": _Classifier(), "groups": [["backbone"], ["fc"]], "head_lr": 0.1, **k}
            ),
            [
                ("groups", [["neck"]], ValueError),
                ("factor", 0.0, ValueError),
                ("head_lr", -1.0, ValueError),
                ("groups", "backbone", TypeError),
            ],
        ),
        Contract(
            "transfer.extract_features",
            lambda **k: cu.extract_features(**{"model": _Classifier(), "loader": _loader(), **k}),
            [("loader", [], ValueError), ("model", "net", TypeError), ("loader", torch.zeros(3), TypeError)],
        ),
        # pretrained
        Contract(
            "pretrained.load_pretrained",
            lambda **k: cu.load_pretrained(**{"arch": "resnet18", "weights": None, **k}),
            [
                ("arch", "resnet19", ValueError),
                ("num_classes", 0, ValueError),
                ("weights", "IMAGENET9", ValueError),
                ("arch", 18, TypeError),
            ],
        ),
        # engine
        Contract(
            "engine.train_step",
            lambda **k: cu.train_step(
                **{
                    "model": model2,
                    "loader": _loader(),
                    "loss_fn": nn.CrossEntropyLoss(),
                    "optimizer": _optimizer(model2),
                    **k,
                }
            ),
            [
                ("loader", [], ValueError),
                ("loss_fn", "ce", TypeError),
                ("optimizer", "adam", TypeError),
                ("loader", [(torch.randn(4, 3), _labels(3))], ValueError, "loader batch 0 labels"),
                ("loader", [(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))], ValueError, "model"),
                ("loader", [(torch.full((4, 3), NAN), _labels())], FloatingPointError, "training loss"),
                ("loader", [(torch.randn(4, 3), _labels().float())], TypeError, "loader batch 0 labels"),
                ("grad_clip", 0.0, ValueError),
            ],
        ),
        Contract(
            "engine.eval_step",
            lambda **k: cu.eval_step(**{"model": model2, "loader": _loader(), "loss_fn": nn.CrossEntropyLoss(), **k}),
            [
                ("loader", [], ValueError),
                ("loss_fn", 3, TypeError),
                ("model", "net", TypeError),
                ("loader", [(torch.randn(4, 3), _labels().float())], TypeError, "loader batch 0 labels"),
            ],
        ),
        Contract(
            "engine.fit",
            lambda **k: cu.fit(
                **{
                    "model": _model(),
                    "train_loader": _loader(),
                    "epochs": 1,
                    "progress": False,
                    "verbose": False,
                    "device": "cpu",
                    **k,
                }
            ),
            [
                ("epochs", 0, ValueError),
                ("lr", -1.0, ValueError),
                ("train_loader", [], ValueError),
                ("val_loader", [], ValueError),
                ("monitor", "acc", ValueError),
                ("label_smoothing", 1.0, ValueError),
                ("weight_decay", -0.1, ValueError),
                ("checkpoint_path", tmp / "no" / "best.pt", FileNotFoundError),
                ("optimizer", "adamx", ValueError),
                ("optimizer", _optimizer(_model()), ValueError),
                ("scheduler", "triangle", ValueError),
                ("loss_fn", "ce", TypeError),
                ("early_stopping_patience", 0, ValueError),
                ("compile", "fastest", ValueError),
                ("compile", 1, ValueError),
            ],
        ),
        Contract(
            "compiling.why_not_compiled",
            lambda **k: cu.compiling.why_not_compiled(**{"device": "cpu", **k}),
            [("device", 3.5, ValueError), ("device", "gpu0", ValueError)],
        ),
        Contract(
            "compiling.compile_for_training",
            lambda **k: cu.compiling.compile_for_training(**{"model": _model(), "device": "cpu", "compile": True, **k}),
            [("model", "net", TypeError), ("compile", "fast", ValueError), ("device", 3.5, ValueError)],
        ),
        Contract(
            "engine.decay_groups",
            lambda **k: cu.decay_groups(**{"model": _model(), "weight_decay": 0.1, **k}),
            [("weight_decay", -1.0, ValueError), ("weight_decay", NAN, ValueError), ("model", "m", TypeError)],
        ),
        # evaluation
        Contract(
            "evaluation.predict",
            lambda **k: cu.evaluation.predict(**{"model": _model(), "loader": _loader(), **k}),
            [
                ("loader", [], ValueError),
                ("loader", "batches", TypeError),
                ("loader", [(torch.randn(4, 3), _labels(5))], ValueError, "loader batch 0 labels"),
            ],
        ),
        Contract(
            "evaluation.evaluate",
            lambda **k: cu.evaluate(**{"model": _model(), "loader": _loader(), "num_classes": 2, **k}),
            [
                ("num_classes", 3, ValueError),
                ("num_classes", 0, ValueError),
                ("class_names", ["a"], ValueError),
                ("top_k", [0], ValueError),
            ],
        ),
        Contract(
            "evaluation.classification_report",
            lambda **k: cu.classification_report(**{"probs": torch.full((4, 2), 0.5), "targets": _labels(), **k}),
            [
                ("probs", torch.full((4,), 0.5), ValueError),
                ("targets", _labels(3), ValueError),
                ("targets", torch.tensor([0, 1, 2, 0]), ValueError),
                ("class_names", ["a", "b", "c"], ValueError),
                ("probs", torch.full((4, 2), NAN), ValueError),
                ("top_k", [3], ValueError),
            ],
        ),
        Contract(
            "evaluation.most_confused_pairs",
            lambda **k: cu.most_confused_pairs(**{"confusion": torch.eye(3, dtype=torch.int64), **k}),
            [
                ("confusion", torch.zeros(2, 3), ValueError),
                ("k", 0, ValueError),
                ("class_names", ["a"], ValueError),
                ("confusion", -torch.eye(3), ValueError),
            ],
        ),
        Contract(
            "evaluation.macro_scores_from_confusion",
            lambda **k: cu.evaluation.macro_scores_from_confusion(**{"confusion": torch.eye(3), **k}),
            [("confusion", torch.zeros(3), ValueError), ("confusion", torch.zeros(2, 3), ValueError)],
        ),
        # plotting
        Contract(
            "charts.plot_confusion_matrix",
            lambda **k: cu.plot_confusion_matrix(**{"confusion": torch.eye(2, dtype=torch.int64), **k}),
            [
                ("confusion", torch.zeros(2, 3, dtype=torch.int64), ValueError),
                ("class_names", ["a"], ValueError),
                ("confusion", torch.eye(2), TypeError),
            ],
        ),
        Contract(
            "charts.plot_history",
            lambda **k: cu.plot_history(**{"history": {"train_loss": [1.0]}, **k}),
            [("history", 5, TypeError), ("history", {}, ValueError)],
        ),
        Contract(
            "plotting.show_images",
            lambda **k: cu.show_images(**{"images": _images(2), **k}),
            [
                ("titles", ["one"], ValueError),
                ("ncols", 0, ValueError),
                ("images", torch.zeros(2, 5, 4, 4), ValueError),
            ],
        ),
        Contract(
            "plotting.show_batch",
            lambda **k: cu.show_batch(**{"images": _images(2), "labels": _labels(2), "class_names": ["a", "b"], **k}),
            [("labels", _labels(3), ValueError), ("class_names", ["a"], ValueError, "labels")],
        ),
        Contract(
            "plotting.show_predictions",
            lambda **k: cu.show_predictions(
                **{"images": _images(2), "preds": _labels(2), "targets": _labels(2), "class_names": ["a", "b"], **k}
            ),
            [("preds", _labels(3), ValueError), ("probs", torch.zeros(3, 2), ValueError)],
        ),
        Contract(
            "plotting.show_augmentations",
            lambda **k: cu.show_augmentations(**{"image": _images(1)[0], "transform": lambda x: x, **k}),
            [("transform", "flip", TypeError), ("n", 0, ValueError)],
        ),
        # contrastive
        Contract(
            "contrastive.cosine_logits",
            lambda **k: cu.cosine_logits(**{"image_embeddings": emb, "text_embeddings": emb, "logit_scale": 1.0, **k}),
            [
                ("image_embeddings", emb[0], ValueError),
                ("text_embeddings", torch.randn(4, 5), ValueError),
                ("logit_scale", "big", TypeError),
                ("image_embeddings", emb.long(), TypeError),
                ("logit_scale", torch.ones(2), ValueError),
            ],
        ),
        Contract(
            "contrastive.zero_shot_classify",
            lambda **k: cu.zero_shot_classify(**{"image_embeddings": emb, "class_embeddings": emb[:2], **k}),
            [("class_embeddings", torch.randn(2, 3), ValueError), ("image_embeddings", [1.0], TypeError)],
        ),
        Contract(
            "contrastive.ensemble_class_embeddings",
            lambda **k: cu.ensemble_class_embeddings(**{"text_embeddings": torch.randn(2, 3, 4), **k}),
            [
                ("text_embeddings", torch.randn(2, 4), ValueError),
                ("text_embeddings", torch.ones(2, 3, 4, dtype=torch.int64), TypeError),
            ],
        ),
        Contract(
            "contrastive.clip_loss",
            lambda **k: cu.clip_loss(**{"image_embeddings": emb, "text_embeddings": emb, "logit_scale": 1.0, **k}),
            [("text_embeddings", emb[:3], ValueError), ("logit_scale", None, TypeError)],
        ),
        Contract(
            "contrastive.fit_linear_probe",
            lambda **k: cu.fit_linear_probe(
                **{"train_features": emb, "train_labels": _labels(), "num_classes": 2, "steps": 2, **k}
            ),
            [
                ("train_labels", _labels(3), ValueError),
                ("train_labels", torch.tensor([0, 1, 2, 0]), ValueError),
                ("num_classes", 0, ValueError),
                ("steps", 0, ValueError),
                ("lr", 0.0, ValueError),
            ],
        ),
        Contract(
            "contrastive.linear_probe",
            lambda **k: cu.linear_probe(
                **{
                    "train_features": emb,
                    "train_labels": _labels(),
                    "test_features": emb,
                    "num_classes": 2,
                    "steps": 2,
                    **k,
                }
            ),
            [("test_features", torch.randn(3), ValueError), ("num_classes", -1, ValueError)],
        ),
        # pretrained_clip (no network: argument checks come first)
        Contract(
            "pretrained_clip.clip_preprocess",
            lambda **k: cu.clip_preprocess(**{"images": _images(2, 3), "image_size": 16, **k}),
            [
                ("images", _images(2, 2), ValueError),
                ("images", _images(2, 3, dtype=torch.int32), TypeError),
                ("image_size", 0, ValueError),
            ],
        ),
        Contract(
            "pretrained_clip.load_clip",
            lambda **k: cu.load_clip(**{"pretrained": None, "device": "cpu", **k}),
            [
                ("model_name", "ViT-B-33", ValueError),
                ("model_name", 32, TypeError),
                ("pretrained", "imagenet", ValueError),
            ],
        ),
        Contract(
            "pretrained_clip.encode_images",
            lambda **k: cu.encode_images(**{"clip": None, "images": _images(), **k}),
            [("clip", "ViT-B-32", TypeError)],
        ),
        Contract(
            "pretrained_clip.encode_texts",
            lambda **k: cu.encode_texts(**{"clip": None, "texts": ["a"], **k}),
            [("clip", object(), TypeError)],
        ),
        Contract(
            "pretrained_clip.zero_shot_classifier",
            lambda **k: cu.zero_shot_classifier(**{"clip": None, "class_names": ["a"], "templates": ["{}"], **k}),
            [("templates", ["a photo"], ValueError), ("templates", "{}", TypeError)],
        ),
        # tiny_clip
        Contract(
            "tiny_clip.patchify",
            lambda **k: cu.patchify(**{"images": _images(2, 3, 8), "patch_size": 4, **k}),
            [("patch_size", 3, ValueError), ("patch_size", 0, ValueError), ("images", _images(2, 3, 8)[0], ValueError)],
        ),
        Contract(
            "tiny_clip.WordVocabulary",
            lambda **k: cu.tiny_clip.WordVocabulary(**{"words": ["cat"], **k}),
            [("words", [], ValueError)],
        ),
        Contract(
            "tiny_clip.CaptionBank",
            lambda **k: cu.CaptionBank(**{"descriptions": [["cat"], ["dog"]], "templates": ["a {}"], **k}),
            [
                ("descriptions", "cat", TypeError),
                ("descriptions", [["cat"], []], TypeError),
                ("templates", ["a cat"], ValueError),
            ],
        ),
        Contract(
            "tiny_clip.BagOfWordsTextEncoder",
            lambda **k: cu.BagOfWordsTextEncoder(**{"vocab_size": 10, "embed_dim": 4, **k}),
            [("vocab_size", 0, ValueError), ("embed_dim", -1, ValueError), ("width", 1.5, TypeError)],
        ),
        Contract(
            "tiny_clip.TinyCLIP",
            lambda **k: cu.TinyCLIP(**{"image_encoder": nn.Flatten(), "text_encoder": nn.Flatten(), **k}),
            [
                ("image_encoder", "cnn", TypeError),
                ("init_temperature", 0.0, ValueError),
                ("max_logit_scale", -1.0, ValueError),
            ],
        ),
        # model_files
        Contract(
            "model_files.ModelCard",
            lambda **k: cu.model_files.ModelCard(**{**_CARD, **k}),
            [
                ("class_names", ("one",), ValueError),
                ("image_size", (28,), ValueError),
                ("channels", 2, ValueError),
                ("mean", (0.5, 0.5), ValueError),
                ("std", (0.0,), ValueError),
                ("resize", "stretch", ValueError),
                ("architecture", 3, TypeError),
                ("arguments", [1], TypeError),
            ],
        ),
        Contract(
            "model_files.save_classifier",
            lambda **k: cu.model_files.save_classifier(
                **{
                    "path": tmp / "m.pt",
                    "model": cu.TinyVGG(hidden_channels=2, num_classes=2),
                    "card": cu.model_files.ModelCard(**_CARD),
                    **k,
                }
            ),
            [
                ("path", tmp / "no" / "m.pt", FileNotFoundError),
                ("model", "tinyvgg", TypeError),
                ("card", {"architecture": "TinyVGG"}, TypeError),
                ("model", cu.TinyVGG(hidden_channels=3, num_classes=2), ValueError, "card"),
            ],
        ),
        Contract(
            "model_files.load_classifier",
            lambda **k: cu.model_files.load_classifier(**{"path": tmp / "m.pt", **k}),
            [("path", tmp / "missing.pt", FileNotFoundError), ("path", tmp / "img.png", ValueError)],
        ),
        Contract(
            "model_files.preprocess_file",
            lambda **k: cu.model_files.preprocess_file(
                **{"path": tmp / "img.png", "card": cu.model_files.ModelCard(**_CARD), **k}
            ),
            [
                ("path", tmp / "missing.png", FileNotFoundError),
                ("card", None, TypeError),
                ("path", tmp / "notes.txt", ValueError),
            ],
        ),
        Contract(
            "model_files.classify_file",
            lambda **k: cu.model_files.classify_file(
                **{
                    "path": tmp / "img.png",
                    "model": cu.TinyVGG(hidden_channels=2, num_classes=2),
                    "card": cu.model_files.ModelCard(**_CARD),
                    **k,
                }
            ),
            [("k", 3, ValueError), ("k", 0, ValueError), ("model", None, TypeError)],
        ),
        # class_overlap
        Contract(
            "class_overlap.imagenet_overlap",
            lambda **k: cu.imagenet_overlap(**{"class_names": ["Pug", "Bengal"], **k}),
            [("class_names", "Pug", TypeError), ("class_names", None, TypeError), ("class_names", [], ValueError),
             ("class_names", ["Pug", 3], ValueError)],
        ),
        # references
        Contract(
            "references.result",
            lambda **k: cu.result(**{"tag": "03.accuracy", "value": 0.5, **k}),
            [("tag", "accuracy", ValueError), ("value", "high", TypeError), ("fmt", "q", ValueError)],
        ),
        Contract(
            "references.results",
            lambda **k: cu.results(**{"values": {"03.accuracy": 0.5}, **k}),
            [("values", [0.5], TypeError), ("labels", {"03.other": "x"}, ValueError)],
        ),
        # calibration
        Contract(
            "calibration.reliability_curve",
            lambda **k: cu.calibration.reliability_curve(
                **{"probs": torch.tensor([[0.7, 0.3], [0.2, 0.8]]), "targets": torch.tensor([0, 1]), **k}
            ),
            [
                ("probs", torch.tensor([0.5, 0.5]), ValueError),
                ("probs", torch.tensor([[2.0, -1.0], [0.0, 1.0]]), ValueError),
                ("probs", torch.tensor([[0.7, 0.7], [0.2, 0.8]]), ValueError),
                ("targets", torch.tensor([0, 5]), ValueError),
                ("n_bins", 0, ValueError),
            ],
        ),
        Contract(
            "calibration.expected_calibration_error",
            lambda **k: cu.calibration.expected_calibration_error(
                **{"probs": torch.tensor([[0.7, 0.3], [0.2, 0.8]]), "targets": torch.tensor([0, 1]), **k}
            ),
            [("targets", torch.tensor([0]), ValueError), ("n_bins", 1.5, ValueError), ("probs", [0.5], TypeError)],
        ),
        Contract(
            "charts.plot_reliability_diagram",
            lambda **k: cu.charts.plot_reliability_diagram(
                **{"curves": cu.calibration.reliability_curve(torch.tensor([[0.7, 0.3]]), torch.tensor([0])), **k}
            ),
            [("curves", {}, TypeError), ("curves", torch.zeros(3), TypeError), ("title", 3, TypeError)],
        ),
        # plotting (lesson 02's helpers)
        Contract(
            "plotting.describe_image",
            lambda **k: cu.plotting.describe_image(**{"image": torch.zeros(1, 2, 2), **k}),
            [("image", [1], TypeError), ("image", torch.zeros(3, 0, 4), ValueError)],
        ),
        Contract(
            "plotting.unnormalize",
            lambda **k: cu.plotting.unnormalize(
                **{"images": torch.zeros(3, 2, 2), "mean": [0.5] * 3, "std": [1.0] * 3, **k}
            ),
            [
                ("images", torch.zeros(3, 2, 2, dtype=torch.uint8), TypeError),
                ("images", torch.zeros(2, 2), ValueError),
                ("mean", [0.5, 0.5], ValueError),
                ("std", [0.0, 1.0, 1.0], ValueError),
                ("mean", "0.5", TypeError),
            ],
        ),
        Contract(
            "plotting.show_rows",
            lambda **k: cu.plotting.show_rows(**{"rows": {"a": [torch.zeros(1, 2, 2)]}, **k}),
            [
                ("rows", [], TypeError),
                ("rows", {"a": []}, TypeError),
                ("size", 0, ValueError),
                ("titles", {"b": ["x"]}, ValueError),
            ],
        ),
        # loaders (lesson 01's timing)
        Contract(
            "loaders.time_loader",
            lambda **k: cu.loaders.time_loader(
                **{
                    "make_loader": lambda: [(torch.zeros(2, 1), 0)] * 3,
                    "num_images": 2,
                    "repeats": 1,
                    "min_batches": 1,
                    **k,
                }
            ),
            [
                ("make_loader", 3, TypeError),
                ("num_images", 0, ValueError),
                ("repeats", 0, ValueError),
                ("min_batches", -1, ValueError),
                ("consume", 3, TypeError),
                ("make_loader", lambda: [], ValueError),
            ],
        ),
        # messy_images
        Contract(
            "messy_images.write_phone_photo",
            lambda **k: cu.messy_images.write_phone_photo(
                **{"pixels": np.zeros((4, 6, 3), np.uint8), "path": tmp / "phone.jpg", **k}
            ),
            [
                ("orientation", 5, ValueError),
                ("quality", 0, ValueError),
                ("path", 3, TypeError),
                ("pixels", np.zeros((4, 6), np.uint8), ValueError),
                ("pixels", np.zeros((4, 6, 3), np.float32), ValueError),
            ],
        ),
        Contract(
            "messy_images.make_messy_folder",
            lambda **k: cu.messy_images.make_messy_folder(**{"root": tmp / "messy", **k}),
            [("seed", -1, ValueError), ("root", 3, TypeError), ("root", tmp, FileExistsError)],
        ),
        # standins
        Contract(
            "standins.standin_banner",
            lambda **k: cu.standins.standin_banner(
                **{"kind": "data", "used": "u", "instead_of": "r", "why": "w", "meaning": "m", **k}
            ),
            [("kind", "model", ValueError), ("used", "", ValueError), ("why", None, ValueError)],
        ),
    ]


#: Public callables without a row, and why.
NO_CONTRACT = {
    "compiling.is_compiled": "answers False for anything that is not torch.compile's wrapper, by design",
    "runtime.PrecisionPolicy": "a record made by precision_policy",
    "runtime.RunMode": "a record made by run_mode",
    "runtime.cpu_supports_bf16": "takes no argument",
    "runtime.quick": "returns one of its two arguments, whatever they are",
    "runtime.run_mode": "takes no argument",
    "runtime.setup_text": "its one argument is checked by precision_policy (row above)",
    "runtime.show_setup": "prints setup_text",
    "image_io.image_backend": "takes no argument",
    "datasets.CIFAR10StandIn": "train is a flag; transforms are torchvision's",
    "datasets.cifar10_tensors": "load_cifar10 plus a permute; root is checked by data_dir",
    "datasets.fashion_mnist_tensors": "load_fashion_mnist plus a permute; root is checked by data_dir",
    "datasets.load_cifar10": "root is checked by data_dir; transforms are torchvision's",
    "datasets.load_fashion_mnist": "root is checked by data_dir; transforms are torchvision's",
    "datasets.sample_photos": "takes no argument",
    "image_folders.ImageFolderSplits": "a record made by pet_image_folder",
    "standins.announce_standin": "prints standin_banner (row above)",
    "standins.download_failure": "formats any exception",
    "standins.require_standins_allowed": "called by the loaders with their own messages",
    "pretrained.PretrainedModel": "a record made by load_pretrained",
    "pretrained.imagenet_categories": "takes no argument",
    "checkpoints.History": "a record made by fit",
    "checkpoints.load_resumable": "fit checks resume_path (tests/test_engine.py)",
    "checkpoints.save_resumable": "called by fit with its own objects",
    "calibration.ReliabilityCurve": "a record made by reliability_curve",
    "loaders.LoaderTiming": "a record made by time_loader",
    "loaders.available_cpus": "takes no argument",
    "loaders.seed_worker": "called by DataLoader workers; outside one it raises a RuntimeError saying so (tests/test_loaders.py)",
    "messy_images.MessyFile": "a record made by make_messy_folder",
    "messy_images.MessyFolder": "a record made by make_messy_folder",
    "unanswered.report_unanswered_exercises": "takes no argument",
    "evaluation.ClassScores": "a record",
    "evaluation.ConfusedPair": "a record",
    "evaluation.EvaluationReport": "a record",
    "evaluation.MacroScores": "a record",
    "contrastive.LinearProbe": "a record made by fit_linear_probe",
    "pretrained_clip.LoadedCLIP": "a record made by load_clip",
    "pretrained_clip.cached_clip_checkpoint": "names are checked by load_clip (row above)",
    "pretrained_clip.hub_reachable": "returns False for anything unreachable, by design",
    "references.ReferenceRun": "a record read from reference_results.json",
    "references.reference_runs": "reads the course's own file",
    "batches.BatchGuard": "internal to the loops (tests/test_batches.py)",
    "batches.device_batches": "internal to the loops (tests/test_batches.py)",
    "batches.model_device": "internal to the loops (tests/test_batches.py)",
    "batches.model_mode": "internal to the loops (tests/test_batches.py)",
    "batches.place_model": "internal to the loops (tests/test_batches.py)",
    "checks.assert_close": "raises AssertionError for the learner by design (tests/test_checks.py)",
    "checks.assert_dtype": "raises AssertionError for the learner by design (tests/test_checks.py)",
    "checks.assert_equal": "raises AssertionError for the learner by design (tests/test_checks.py)",
    "checks.assert_in_range": "raises AssertionError for the learner by design (tests/test_checks.py)",
    "checks.assert_param_count": "raises AssertionError for the learner by design (tests/test_checks.py)",
    "checks.assert_type": "raises AssertionError for the learner by design (tests/test_checks.py)",
    "checks.assert_shape": "raises AssertionError for the learner by design (tests/test_checks.py)",
}

_NAMES = [c.name for c in _contracts(Path("/nonexistent"))]
_ROWS = [(c.name, i) for c in _contracts(Path("/nonexistent")) for i in range(len(c.bad))]


@pytest.fixture(scope="module")
def contract_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("contracts")
    cu.encode_png(_images(1, 3)[0], tmp / "img.png")
    (tmp / "notes.txt").write_text("not an image")
    cu.model_files.save_classifier(
        tmp / "m.pt", cu.TinyVGG(hidden_channels=2, num_classes=2), cu.model_files.ModelCard(**_CARD)
    )
    return tmp


@pytest.mark.parametrize(("name", "row"), _ROWS, ids=[f"{n}-{i}" for n, i in _ROWS])
def test_bad_input_gets_a_clear_error_naming_the_argument(
    name: str, row: int, contract_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("COURSE_ALLOW_STANDINS", raising=False)
    contract = next(c for c in _contracts(contract_dir) if c.name == name)
    argument, value, expected, *named = contract.bad[row]
    subject = named[0] if named else argument
    # TypeError and ValueError are both "a clear error" for a wrong value; the message is what must be right.
    catch = (TypeError, ValueError) if expected in (TypeError, ValueError) else expected
    try:
        returned = contract.call(**{argument: value})
    except catch as error:
        message = str(error)
        assert message.startswith(subject), (
            f"{name}({argument}={value!r}): the message does not start with {subject!r}: {message}"
        )
        assert "expected" in message, (
            f"{name}({argument}={value!r}): the message does not say what was expected: {message}"
        )
    else:
        pytest.fail(
            f"{name}({argument}={value!r}) returned {type(returned).__name__} silently; expected {expected.__name__}"
        )


@pytest.mark.parametrize("name", sorted(set(_NAMES)))
def test_the_valid_call_of_each_row_succeeds(name: str, contract_dir: Path) -> None:
    """A row whose valid call fails would make every bad input 'pass' for the wrong reason."""
    if name.startswith("pretrained_clip.") and name != "pretrained_clip.clip_preprocess":
        pytest.importorskip("open_clip")
        if name != "pretrained_clip.load_clip":
            return  # the valid call needs a loaded CLIP; tests/test_clip.py covers it
    if name == "image_folders.pet_image_folder":
        return  # the valid call downloads Oxford-IIIT Pet; tests/test_online_paths.py covers it with a fake
    contract = next(c for c in _contracts(contract_dir) if c.name == name)
    contract.call()


def test_every_public_function_has_a_contract() -> None:
    public = set()
    for module in cu.SUBMODULES:
        mod = importlib.import_module(f"course_utils.{module}")
        for attr in mod.__all__:
            if callable(getattr(mod, attr)) and (
                inspect.isfunction(getattr(mod, attr)) or inspect.isclass(getattr(mod, attr))
            ):
                public.add(f"{module}.{attr}")
    missing = public - set(_NAMES) - set(NO_CONTRACT)
    assert not missing, f"public callables without a contract row (or a reason in NO_CONTRACT): {sorted(missing)}"
    assert not (set(NO_CONTRACT) - public), f"NO_CONTRACT names that are not public: {set(NO_CONTRACT) - public}"
