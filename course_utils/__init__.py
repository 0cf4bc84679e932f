"""course_utils: the helper package of the course "Image classification with PyTorch".

Lessons import it as ``import course_utils as cu``. Each module has one job:

* ``runtime``    – device, seeding, precision policy, run mode (quick / offline)
* ``image_io``   – reading and writing image files (TorchCodec, torchvision or PIL, same result)
* ``datasets``   – FashionMNIST, CIFAR-10 (or a labelled stand-in), digits, faces, sample photos, channel stats
* ``splits``     – seeded stratified splits and "k labels per class" subsets, made first
* ``image_folders`` – ImageFolder trees: exporting tensors, Oxford-IIIT Pet train/val/test (or a stand-in)
* ``hygiene``    – listing image files, finding byte-identical copies across splits
* ``standins``   – one way to refuse, or announce, a stand-in for data or weights that cannot be had
* ``loaders``    – the fast in-memory ``TensorLoader``, ``make_dataloaders``, worker seeding and loader timing
* ``messy_images`` – a realistic messy image folder (sizes, modes, EXIF, a broken file, a CSV), made offline
* ``augment``    – batched random augmentations for in-memory batches
* ``models``     – MLP, TinyVGG, LeNet-5, residual block, a stronger small CNN
* ``transfer``   – freezing, new heads, parameter groups, feature extraction
* ``pretrained`` – ImageNet networks: torchvision weights online, EfficientNet-Lite0's real weights offline
* ``batches``    – how every loop walks through batches: device, precision, mode, checks
* ``engine``     – ``train_step``, ``eval_step`` and ``fit``
* ``compiling``  – ``fit(compile=True)``: ``torch.compile`` where it helps (recent NVIDIA GPUs), a stated fallback elsewhere
* ``checkpoints`` – a run's ``History`` and ``fit``'s resumable checkpoint
* ``evaluation`` – ``predict`` and ``evaluate`` (torchmetrics)
* ``calibration`` – is the confidence honest? reliability curves and expected calibration error
* ``plotting``   – figures of images: grids, batches, augmentations, predictions
* ``charts``     – figures of numbers: training curves, confusion matrices
* ``contrastive`` – maths on embeddings: cosine logits, zero-shot, prompt ensembles, CLIP's loss, linear probes
* ``pretrained_clip`` – a real CLIP through open_clip (or a labelled stand-in): load, preprocess, encode
* ``tiny_clip``  – CLIP in miniature (vocabulary, captions, text encoder, TinyCLIP) and ViT patches
* ``checks``     – assertions with clear messages for the lessons' test cells
* ``references`` – a result printed beside the recorded full-mode reference results
* ``model_files`` – use your model: save it with what it needs, load it back, classify a file you bring
* ``class_overlap`` – which of your classes (e.g. Pet breeds) are already ImageNet-1K classes
* ``unanswered`` – Run All goes on past an unanswered exercise ("Not answered yet"); grading is unchanged

Every name below is imported lazily (PEP 562): ``import course_utils`` loads no submodule, and
``cu.fit`` imports ``engine`` the first time it is used. So a lesson that needs only the data
helpers never pays for torchvision, torchmetrics, open_clip or matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: The top level: the names the lessons use, by the module that defines them (each a subset of that
#: module's ``__all__``; ``tests/test_package.py`` checks both). Everything else is public in its module
#: and reached through it (``cu.evaluation.macro_scores_from_confusion``); every module is a lazy attribute too.
EXPORTS: dict[str, tuple[str, ...]] = {
    "runtime": ("cpu_supports_bf16", "get_device", "precision_policy", "quick", "run_mode", "seed_everything",
                "show_setup"),
    "image_io": ("decode_image", "encode_png", "image_backend"),
    "datasets": ("CIFAR10_CLASSES", "FASHION_MNIST_CLASSES", "DIGIT_CLASSES", "FACE_CLASSES", "channel_stats",
                 "cifar10_tensors", "data_dir", "digits_tensors", "faces_tensors", "fashion_mnist_tensors",
                 "load_cifar10", "load_fashion_mnist", "sample_photo", "sample_photos"),
    "splits": ("per_class_subset", "stratified_split"),
    "image_folders": ("export_image_folder", "pet_image_folder"),
    "hygiene": ("find_duplicate_files", "image_files"),
    "messy_images": ("make_messy_folder", "write_phone_photo"),
    "standins": (),
    "loaders": ("TensorLoader", "TransformedDataset", "make_dataloaders", "available_cpus", "seed_worker",
                "time_loader"),
    "augment": ("random_hflip",),
    "models": ("FashionMLP", "LeNet5", "ResidualBlock", "SmallCNN", "TinyVGG", "count_parameters"),
    "transfer": ("discriminative_param_groups", "extract_features", "find_head", "freeze_backbone", "param_groups",
                 "replace_head", "unfreeze"),
    "pretrained": ("OFFLINE_ARCH", "load_pretrained"),
    "engine": ("decay_groups", "eval_step", "fit", "train_step"),
    "compiling": (),
    "checkpoints": (),
    "evaluation": ("classification_report", "evaluate", "most_confused_pairs", "predict"),
    "calibration": ("expected_calibration_error", "reliability_curve"),
    "plotting": ("show_augmentations", "show_batch", "show_images", "show_predictions", "describe_image",
                 "unnormalize", "show_rows"),
    "charts": ("plot_confusion_matrix", "plot_history", "plot_reliability_diagram"),
    "model_files": ("ModelCard", "classify_file", "load_classifier", "save_classifier"),
    "contrastive": ("clip_loss", "cosine_logits", "ensemble_class_embeddings", "fit_linear_probe", "linear_probe",
                    "zero_shot_classify"),
    "pretrained_clip": ("clip_preprocess", "encode_images", "encode_texts", "load_clip", "zero_shot_classifier"),
    "tiny_clip": ("BagOfWordsTextEncoder", "CaptionBank", "TinyCLIP", "patchify"),
    "references": ("result", "results"),
    "class_overlap": ("imagenet_overlap",),
    "unanswered": (),
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
        raise AttributeError(f"module 'course_utils' has no attribute {name!r}{_where_else(name)}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def _where_else(name: str) -> str:
    """A hint for a public name that lives in a submodule but not at the top level (only on the error path)."""
    if name.startswith("_"):
        return ""
    for module in SUBMODULES:
        if name in getattr(importlib.import_module(f".{module}", __name__), "__all__", ()):
            return f" (it is course_utils.{module}.{name})"
    return ""


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
