"""course_utils: the helper package of the course "Image classification with PyTorch".

Lessons import it as ``import course_utils as cu``. Each module has one job:

* ``runtime``    – device, seeding, precision policy, run mode (quick / offline)
* ``image_io``   – reading and writing image files (TorchCodec, torchvision or PIL, same result)
* ``datasets``   – FashionMNIST, CIFAR-10 (or a labelled stand-in), sample photos, channel stats
* ``loaders``    – the fast in-memory ``TensorLoader`` and ``make_dataloaders``
* ``messy_images`` – a realistic messy image folder (sizes, modes, EXIF, a broken file, a CSV), made offline
* ``augment``    – batched random augmentations for in-memory batches
* ``models``     – MLP, TinyVGG, LeNet-5, residual block, a stronger small CNN
* ``transfer``   – freezing, new heads, parameter groups, feature extraction
* ``pretrained`` – ImageNet networks: torchvision weights online, EfficientNet-Lite0's real weights offline
* ``transfer_data`` – small real sets (digits, faces), splits, pet/stand-in ImageFolder trees, duplicates
* ``class_overlap`` – which of your classes (e.g. Pet breeds) are already ImageNet-1K classes
* ``batches``    – how every loop walks through batches: device, precision, mode, checks
* ``engine``     – ``train_step``, ``eval_step``, ``fit`` and its ``History``
* ``evaluation`` – ``predict`` and ``evaluate`` (torchmetrics)
* ``plotting``   – figures for images, curves, confusion matrices and predictions
* ``clip``       – CLIP: open_clip loading (or a labelled stand-in), zero-shot helpers, a tiny CLIP
* ``checks``     – assertions with clear messages for the lessons' test cells
* ``references`` – a result printed beside the recorded full-mode reference results
* ``unanswered`` – Run All goes on past an unanswered exercise ("Not answered yet"), grading unchanged

Every name below is imported lazily (PEP 562): ``import course_utils`` loads no submodule, and
``cu.fit`` imports ``engine`` the first time it is used. So a lesson that needs only the data
helpers never pays for torchvision, torchmetrics, open_clip or matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: The public names, by the module that defines them (each must equal that module's ``__all__``;
#: ``tests/test_package.py`` checks it). ``batches`` and ``checks`` are used as modules.
EXPORTS: dict[str, tuple[str, ...]] = {
    "runtime": ("PrecisionPolicy", "RunMode", "cpu_supports_bf16", "get_device", "precision_policy", "quick",
                "run_mode", "seed_everything", "setup_text", "show_setup"),
    "image_io": ("IMAGE_BACKENDS", "decode_image", "encode_png", "image_backend"),
    "datasets": ("CIFAR10_CLASSES", "FASHION_MNIST_CLASSES", "SYSTEM_FASHION_MNIST", "CIFAR10StandIn",
                 "channel_stats", "cifar10_tensors", "data_dir", "export_image_folder", "fashion_mnist_tensors",
                 "load_cifar10", "load_fashion_mnist", "sample_photo", "sample_photos"),
    "loaders": ("TensorLoader", "TransformedDataset", "make_dataloaders", "LoaderTiming", "available_cpus",
                "seed_worker", "time_loader"),
    "messy_images": ("MESSY_CLASSES", "MessyFile", "MessyFolder", "make_messy_folder", "write_phone_photo"),
    "augment": ("random_hflip",),
    "models": ("FashionMLP", "LeNet5", "ResidualBlock", "SmallCNN", "TinyVGG", "count_parameters"),
    "transfer": ("discriminative_param_groups", "extract_features", "find_head", "freeze", "freeze_backbone",
                 "param_groups", "replace_head", "unfreeze"),
    "pretrained": ("OFFLINE_ARCH", "PretrainedModel", "imagenet_categories", "load_pretrained"),
    "transfer_data": ("DIGIT_CLASSES", "FACE_CLASSES", "PET_BREEDS", "PET_CLASSES", "ImageFolderSplits",
                      "digits_tensors", "faces_tensors", "file_digest", "find_duplicate_files", "image_files",
                      "per_class_subset", "pet_image_folder", "photo_standin_folder", "stratified_split"),
    "engine": ("History", "decay_groups", "eval_step", "fit", "train_step"),
    "evaluation": ("ClassScores", "ConfusedPair", "EvaluationReport", "MacroScores", "classification_report",
                   "evaluate", "macro_scores_from_confusion", "most_confused_pairs", "predict",
                   "ReliabilityCurve", "reliability_curve", "expected_calibration_error"),
    "plotting": ("plot_confusion_matrix", "plot_history", "show_augmentations", "show_batch", "show_images",
                 "show_predictions", "describe_image", "unnormalize", "show_rows", "plot_reliability_diagram"),
    "clip": ("CLIP_MAX_LOGIT_SCALE", "DEFAULT_CLIP_MODEL", "DEFAULT_CLIP_PRETRAINED", "BagOfWordsTextEncoder",
             "CaptionBank", "LinearProbe", "LoadedCLIP", "TinyCLIP", "WordVocabulary", "cached_clip_checkpoint",
             "clip_loss", "clip_preprocess", "cosine_logits", "encode_images", "encode_texts",
             "ensemble_class_embeddings", "fit_linear_probe", "hub_reachable", "linear_probe", "load_clip",
             "patchify", "zero_shot_classifier", "zero_shot_classify"),
    "model_files": ("ModelCard", "classify_file", "load_classifier", "preprocess_file", "save_classifier"),
    "class_overlap": ("PET_BREEDS_IN_IMAGENET", "imagenet_overlap"),
    "references": ("ReferenceRun", "reference_runs", "result", "results"),
    "unanswered": ("report_unanswered_exercises",),
}
SUBMODULES = (*EXPORTS, "batches", "checks")
_MODULE_OF = {name: module for module, names in EXPORTS.items() for name in names}

__all__ = ["__version__", "batches", "checks", *_MODULE_OF]


def __getattr__(name: str) -> Any:
    """Import a submodule, or the submodule that defines ``name``, on first use (PEP 562)."""
    if name in SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'course_utils' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
