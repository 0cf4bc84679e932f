"""CLIP in miniature, small enough to train in minutes on a CPU, and the patches a Vision Transformer reads.

``patchify`` cuts images into the patches a ViT embeds. ``WordVocabulary`` maps words to ids (the
simplest tokenizer), ``CaptionBank`` holds every caption that templates × class descriptions make,
tokenised once and sampled per batch, ``BagOfWordsTextEncoder`` is a minimal text encoder, and
``TinyCLIP`` joins an image and a text encoder with CLIP's learned temperature. Lesson 05 trains it
with ``contrastive.clip_loss``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import describe, require_positive_float, require_positive_int, require_tensor
from .contrastive import CLIP_MAX_LOGIT_SCALE, _check_templates

__all__ = ["BagOfWordsTextEncoder", "CaptionBank", "TinyCLIP", "WordVocabulary", "patchify"]


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut N×C×H×W images into non-overlapping p×p patches: N×(H/p · W/p)×(C·p·p).

    Patches are numbered row by row (left to right, then top to bottom), as a Vision
    Transformer reads them; each patch is flattened in (channel, row, column) order, the
    layout of a ``Conv2d`` weight, so ``patchify(x, p) @ conv.weight.flatten(1).T`` equals a
    convolution with ``kernel_size=stride=p`` (and ``F.unfold(x, p, stride=p).transpose(1, 2)``).
    Works for any dtype; H and W must be multiples of p.

    Taught in lesson 05.
    """
    images = require_tensor("images", images, ndim=4)
    require_positive_int("patch_size", patch_size)
    n, c, h, w = images.shape
    if h % patch_size or w % patch_size:
        raise ValueError(
            f"patch_size: expected a divisor of the image height {h} and width {w}, got {patch_size}"
        )
    rows, cols = h // patch_size, w // patch_size
    patches = images.reshape(n, c, rows, patch_size, cols, patch_size).permute(0, 2, 4, 1, 3, 5)
    return patches.reshape(n, rows * cols, c * patch_size * patch_size)


_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


class WordVocabulary:
    """Maps words to integer ids, the simplest possible tokenizer.

    Text is lower-cased and split into words (letters and digits; hyphenated words such as
    "t-shirt" stay one word). Id 0 is padding. A word that is not in the vocabulary is
    *dropped* when encoding: a model has learned nothing about it, so it carries no
    information (CLIP's sub-word tokenizer avoids unknown words altogether).

    Taught in lesson 05.
    """

    PAD = "<pad>"

    def __init__(self, words: Iterable[str]) -> None:
        unique = sorted({w for w in words if isinstance(w, str) and w})
        if not unique:
            raise ValueError("words: expected at least one word, got none")
        self.words: tuple[str, ...] = (self.PAD, *unique)
        self.index = {word: i for i, word in enumerate(self.words)}

    @staticmethod
    def split(text: str) -> list[str]:
        """The words of ``text``, lower-cased (punctuation dropped)."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected a string, got {describe(text)}")
        return _WORD.findall(text.lower())

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> WordVocabulary:
        """A vocabulary of every word that occurs in ``texts``."""
        return cls(word for text in texts for word in cls.split(text))

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index and word != self.PAD

    def unknown_words(self, texts: Iterable[str]) -> list[str]:
        """The words of ``texts`` that are not in the vocabulary, sorted."""
        return sorted({w for text in texts for w in self.split(text) if w not in self.index})

    def encode(self, texts: Sequence[str], length: int | None = None) -> torch.Tensor:
        """Word ids of each text, padded with 0 to one length: int64 len(texts)×length.

        ``length`` defaults to the longest text (after dropping unknown words); longer texts are cut.
        """
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise TypeError(f"texts: expected a list of strings, got {describe(texts)}")
        ids = [[self.index[w] for w in self.split(text) if w in self.index] for text in texts]
        if length is None:
            length = max((len(row) for row in ids), default=1) or 1
        require_positive_int("length", length)
        out = torch.zeros(len(ids), length, dtype=torch.int64)
        for row, word_ids in enumerate(ids):
            word_ids = word_ids[:length]
            out[row, :len(word_ids)] = torch.tensor(word_ids, dtype=torch.int64)
        return out

    def decode(self, ids: torch.Tensor) -> list[str]:
        """The words of each row of ``ids`` joined by spaces (padding left out)."""
        ids = require_tensor("ids", ids, ndim=2, nonempty=False)
        return [" ".join(self.words[i] for i in row.tolist() if i != 0) for row in ids]

    def __repr__(self) -> str:
        return f"WordVocabulary({len(self.words) - 1} words + padding)"


class CaptionBank:
    """Every caption that ``templates`` × each class's ``descriptions`` make, tokenised once.

    ``descriptions[c]`` lists the ways to name class c ("sneaker", "trainer", ...), each
    template has one ``{}`` ("a photo of a {}"). ``sample(labels)`` draws, for every label,
    one of its class's captions uniformly at random, so each epoch pairs an image with a
    fresh sentence. The vocabulary is built from the captions unless one is given.

    Taught in lesson 05.
    """

    def __init__(
        self,
        descriptions: Sequence[Sequence[str]],
        templates: Sequence[str],
        vocabulary: WordVocabulary | None = None,
    ) -> None:
        templates = _check_templates(templates)
        if isinstance(descriptions, str) or not isinstance(descriptions, Sequence) or not descriptions:
            raise TypeError(f"descriptions: expected one list of names per class, got {describe(descriptions)}")
        captions: list[str] = []
        classes: list[int] = []
        for label, names in enumerate(descriptions):
            if isinstance(names, str) or not isinstance(names, Sequence) or not names:
                raise TypeError(
                    f"descriptions: expected a non-empty list of names for class {label}, got {describe(names)}"
                )
            for name in names:
                for template in templates:
                    captions.append(template.format(name))
                    classes.append(label)
        self.captions: tuple[str, ...] = tuple(captions)
        self.caption_class = torch.tensor(classes, dtype=torch.int64)
        self.num_classes = len(descriptions)
        self.vocabulary = vocabulary if vocabulary is not None else WordVocabulary.from_texts(captions)
        self.tokens = self.vocabulary.encode(list(captions))
        self.counts = torch.bincount(self.caption_class, minlength=self.num_classes)
        self.offsets = torch.cumsum(self.counts, 0) - self.counts

    def __len__(self) -> int:
        return len(self.captions)

    def sample(
        self, labels: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One random caption of each label's class: ``(tokens B×L on the labels' device, caption indices B)``."""
        labels = require_tensor("labels", labels, ndim=1)
        cpu_labels = labels.detach().cpu().long()
        if int(cpu_labels.min()) < 0 or int(cpu_labels.max()) >= self.num_classes:
            raise ValueError(
                f"labels: expected class indices in [0, {self.num_classes - 1}], got values from "
                f"{int(cpu_labels.min())} to {int(cpu_labels.max())}"
            )
        draws = torch.rand(len(cpu_labels), generator=generator)
        index = self.offsets[cpu_labels] + (draws * self.counts[cpu_labels]).long()
        return self.tokens[index].to(labels.device), index

    def __repr__(self) -> str:
        return (
            f"CaptionBank({len(self.captions)} captions for {self.num_classes} classes, "
            f"{len(self.vocabulary) - 1} words)"
        )


class BagOfWordsTextEncoder(nn.Module):
    """A minimal text encoder: the average of learned word vectors, then a small MLP.

    Word order is ignored ("bag of words"), which is enough when the words themselves carry
    the meaning. Padding (id 0) is left out of the average.

    Taught in lesson 05.
    """

    def __init__(self, vocab_size: int, embed_dim: int, width: int = 64) -> None:
        super().__init__()
        require_positive_int("vocab_size", vocab_size)
        require_positive_int("embed_dim", embed_dim)
        require_positive_int("width", width)
        self.embedding = nn.Embedding(vocab_size, width, padding_idx=0)
        self.projection = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, embed_dim))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Word ids B×L (0 = padding) to embeddings B×embed_dim."""
        tokens = require_tensor("tokens", tokens, ndim=2, dtypes=(torch.int64, torch.int32))
        mask = (tokens != 0).unsqueeze(-1).to(self.embedding.weight.dtype)
        summed = (self.embedding(tokens) * mask).sum(dim=1)
        return self.projection(summed / mask.sum(dim=1).clamp_min(1.0))


class TinyCLIP(nn.Module):
    """Two encoders into one embedding space and a learned temperature: CLIP in miniature.

    ``image_encoder`` maps images to B×D, ``text_encoder`` maps word ids to B×D. The learned
    ``logit_scale`` (the log of 1/temperature) starts at ln(1/0.07) as in CLIP; call
    ``clamp_logit_scale_()`` after each optimiser step to keep it in [0, ln 100].

    Taught in lesson 05.
    """

    def __init__(
        self,
        image_encoder: nn.Module,
        text_encoder: nn.Module,
        *,
        init_temperature: float = 0.07,
        max_logit_scale: float = CLIP_MAX_LOGIT_SCALE,
    ) -> None:
        super().__init__()
        for name, module in (("image_encoder", image_encoder), ("text_encoder", text_encoder)):
            if not isinstance(module, nn.Module):
                raise TypeError(f"{name}: expected a torch.nn.Module, got {describe(module)}")
        require_positive_float("init_temperature", init_temperature)
        require_positive_float("max_logit_scale", max_logit_scale)
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.max_logit_scale = float(max_logit_scale)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)))

    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Image embeddings B×D (unit rows when ``normalize``)."""
        out = self.image_encoder(images)
        return F.normalize(out, dim=1) if normalize else out

    def encode_text(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Text embeddings B×D (unit rows when ``normalize``)."""
        out = self.text_encoder(tokens)
        return F.normalize(out, dim=1) if normalize else out

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Unit image and text embeddings of a batch of pairs (row i of each is pair i)."""
        return self.encode_image(images), self.encode_text(tokens)

    @property
    def temperature(self) -> float:
        """The current temperature, 1 / exp(logit_scale)."""
        return float(torch.exp(-self.logit_scale.detach()))

    def clamp_logit_scale_(self) -> None:
        """Keep the logit scale in [0, max_logit_scale] (CLIP's rule: similarities scaled by at most 100)."""
        with torch.no_grad():
            self.logit_scale.clamp_(0.0, self.max_logit_scale)
