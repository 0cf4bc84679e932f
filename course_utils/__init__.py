"""course_utils: the helper package of the course "Image classification with PyTorch".

Lessons import it as ``import course_utils as cu``. Each module has one job:

* ``runtime``    – device, seeding, precision policy, run mode (quick / offline)
* ``image_io``   – reading and writing image files (TorchCodec, torchvision or PIL, same result)
* ``datasets``   – FashionMNIST, CIFAR-10 (or a labelled stand-in), sample photos, channel stats
* ``loaders``    – the fast in-memory ``TensorLoader`` and ``make_dataloaders``
* ``augment``    – batched random augmentations for in-memory batches
* ``models``     – MLP, TinyVGG, LeNet-5, residual block, a stronger small CNN
* ``transfer``   – freezing, new heads, parameter groups, feature extraction
* ``pretrained`` – ImageNet networks: torchvision weights online, EfficientNet-Lite0's real weights offline
* ``transfer_data`` – small real sets (digits, faces), splits, pet/stand-in ImageFolder trees, duplicates
* ``batches``    – how every loop walks through batches: device, precision, mode, checks
* ``engine``     – ``train_step``, ``eval_step``, ``fit`` and its ``History``
* ``evaluation`` – ``predict`` and ``evaluate`` (torchmetrics)
* ``plotting``   – figures for images, curves, confusion matrices and predictions
* ``clip``       – CLIP: open_clip loading (or a labelled stand-in), zero-shot helpers, a tiny CLIP
* ``checks``     – assertions with clear messages for the lessons' test cells
* ``references`` – a result printed beside the recorded full-mode reference results
"""

from . import batches, checks
from .augment import *  # noqa: F403
from .augment import __all__ as _augment_all
from .clip import *  # noqa: F403
from .clip import __all__ as _clip_all
from .datasets import *  # noqa: F403
from .datasets import __all__ as _datasets_all
from .engine import *  # noqa: F403
from .engine import __all__ as _engine_all
from .evaluation import *  # noqa: F403
from .evaluation import __all__ as _evaluation_all
from .image_io import *  # noqa: F403
from .image_io import __all__ as _image_io_all
from .loaders import *  # noqa: F403
from .loaders import __all__ as _loaders_all
from .models import *  # noqa: F403
from .models import __all__ as _models_all
from .plotting import *  # noqa: F403
from .plotting import __all__ as _plotting_all
from .pretrained import *  # noqa: F403
from .pretrained import __all__ as _pretrained_all
from .references import *  # noqa: F403
from .references import __all__ as _references_all
from .runtime import *  # noqa: F403
from .runtime import __all__ as _runtime_all
from .transfer import *  # noqa: F403
from .transfer import __all__ as _transfer_all
from .transfer_data import *  # noqa: F403
from .transfer_data import __all__ as _transfer_data_all

__version__ = "0.1.0"
__all__ = [
    "__version__",
    "batches",
    "checks",
    *_runtime_all,
    *_image_io_all,
    *_datasets_all,
    *_loaders_all,
    *_augment_all,
    *_models_all,
    *_transfer_all,
    *_pretrained_all,
    *_transfer_data_all,
    *_engine_all,
    *_evaluation_all,
    *_plotting_all,
    *_clip_all,
    *_references_all,
]
