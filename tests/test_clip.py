"""Tests of the CLIP modules: contrastive (the exercises' references), tiny_clip, and pretrained_clip offline."""

from __future__ import annotations

import math
import socket

import open_clip
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import course_utils as cu
from course_utils import contrastive as con
from course_utils import pretrained_clip as cc
from course_utils import tiny_clip as tc

STANDINS_ENV = "COURSE_ALLOW_STANDINS"
SMALL_MODEL = "ViT-S-32-alt"  # the smallest built-in open_clip ViT: fast to create in tests


def reference_logits(a: torch.Tensor, b: torch.Tensor, s: float) -> torch.Tensor:
    return math.exp(s) * F.normalize(a, dim=1) @ F.normalize(b, dim=1).T


# ---------------------------------------------------------------- cosine_logits / zero_shot_classify


def test_cosine_logits_matches_the_formula_and_ignores_lengths():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 7, generator=gen) * 3, torch.randn(4, 7, generator=gen)
    for s in (0.0, 1.5, math.log(100)):
        torch.testing.assert_close(con.cosine_logits(a, b, s), reference_logits(a, b, s))
    torch.testing.assert_close(con.cosine_logits(10 * a, 0.1 * b, 0.0), con.cosine_logits(a, b, 0.0))
    torch.testing.assert_close(con.cosine_logits(a, b, torch.tensor([2.0])), reference_logits(a, b, 2.0))
    assert con.cosine_logits(a.double(), b, 0.0).dtype == torch.float64


def test_cosine_logits_passes_gradients_to_a_logit_scale_parameter():
    scale = nn.Parameter(torch.tensor(1.0))
    a, b = torch.randn(3, 4), torch.randn(2, 4)
    con.cosine_logits(a, b, scale).sum().backward()
    assert scale.grad is not None
    torch.testing.assert_close(scale.grad, reference_logits(a, b, 1.0).sum())


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((torch.randn(3), torch.randn(2, 3), 0.0), ValueError, "image_embeddings: expected a 2-dimensional"),
        ((torch.randn(3, 4), torch.randn(2, 5), 0.0), ValueError, "text_embeddings: expected 4 dimensions"),
        ((torch.ones(3, 4, dtype=torch.int64), torch.randn(2, 4), 0.0), TypeError, "floating-point"),
        ((torch.randn(3, 4), torch.randn(2, 4), "1"), TypeError, "logit_scale: expected a number"),
        ((torch.randn(3, 4), torch.randn(2, 4), True), TypeError, "logit_scale: expected a number"),
        ((torch.randn(3, 4), torch.randn(2, 4), torch.ones(2)), ValueError, "logit_scale: expected a single number"),
    ],
)
def test_cosine_logits_rejects_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        con.cosine_logits(*args)


def test_zero_shot_classify_returns_probabilities_and_the_best_class():
    gen = torch.Generator().manual_seed(1)
    images, classes = torch.randn(20, 6, generator=gen), torch.randn(4, 6, generator=gen) * 5
    probs, preds = con.zero_shot_classify(images, classes)
    torch.testing.assert_close(probs, reference_logits(images, classes, math.log(100)).softmax(dim=1))
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(20))
    assert preds.dtype == torch.int64 and torch.equal(preds, probs.argmax(dim=1))
    flat, _ = con.zero_shot_classify(images, classes, 0.0)
    assert flat.max() < probs.max()  # a higher temperature gives flatter probabilities


# ---------------------------------------------------------------- ensembles, loss, patchify


def test_ensemble_class_embeddings_normalises_averages_and_normalises_again():
    gen = torch.Generator().manual_seed(2)
    emb = torch.randn(3, 5, 8, generator=gen)
    out = con.ensemble_class_embeddings(emb)
    torch.testing.assert_close(out, F.normalize(F.normalize(emb, dim=2).mean(dim=1), dim=1))
    torch.testing.assert_close(out.norm(dim=1), torch.ones(3))
    louder = emb.clone()
    louder[1, 2] *= 100
    torch.testing.assert_close(con.ensemble_class_embeddings(louder), out)
    with pytest.raises(ValueError, match="3-dimensional"):
        con.ensemble_class_embeddings(torch.randn(3, 8))
    with pytest.raises(TypeError, match="floating-point"):
        con.ensemble_class_embeddings(torch.ones(2, 2, 2, dtype=torch.int64))


def test_clip_loss_matches_the_symmetric_formula_and_its_limits():
    gen = torch.Generator().manual_seed(3)
    a, b = torch.randn(6, 5, generator=gen), torch.randn(6, 5, generator=gen)
    logits = reference_logits(a, b, 2.0)
    targets = torch.arange(6)
    expected = (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
    torch.testing.assert_close(con.clip_loss(a, b, 2.0), expected)
    torch.testing.assert_close(con.clip_loss(b, a, 2.0), con.clip_loss(a, b, 2.0))
    torch.testing.assert_close(con.clip_loss(torch.ones(7, 3), torch.ones(7, 3), 1.0), torch.tensor(math.log(7)))
    assert con.clip_loss(torch.eye(5), torch.eye(5), math.log(100)) < 1e-3
    with pytest.raises(ValueError, match="one text per image"):
        con.clip_loss(torch.randn(3, 2), torch.randn(4, 2), 0.0)


def test_clip_loss_floor_with_duplicate_classes_is_the_mean_log_of_the_class_counts():
    labels = torch.tensor([0, 0, 0, 1, 1, 2])
    perfect = F.one_hot(labels, 3).float()
    counts = torch.bincount(labels)[labels].float()
    torch.testing.assert_close(con.clip_loss(perfect, perfect, math.log(100)), counts.log().mean(), atol=1e-4, rtol=0)


def test_patchify_equals_unfold_and_a_strided_convolution():
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(2, 3, 8, 12, generator=gen)
    patches = tc.patchify(x, 4)
    assert patches.shape == (2, 6, 48)
    torch.testing.assert_close(patches, F.unfold(x, 4, stride=4).transpose(1, 2))
    conv = nn.Conv2d(3, 5, kernel_size=4, stride=4, bias=False)
    with torch.no_grad():
        torch.testing.assert_close(patches @ conv.weight.flatten(1).T, conv(x).flatten(2).transpose(1, 2))
    as_bytes = torch.arange(16, dtype=torch.uint8).reshape(1, 1, 4, 4)
    assert tc.patchify(as_bytes, 2)[0, 1].tolist() == [2, 3, 6, 7]
    with pytest.raises(ValueError, match="patch_size: expected a divisor of the image height 8 and width 12, got 5"):
        tc.patchify(x, 5)
    with pytest.raises(ValueError, match="patch_size"):
        tc.patchify(x, 0)


# ---------------------------------------------------------------- linear probe


def _clouds(gen: torch.Generator, n: int, centres: torch.Tensor, spread: float = 1.0):
    labels = torch.arange(n) % centres.shape[0]
    return centres[labels] + spread * torch.randn(n, centres.shape[1], generator=gen), labels


def test_fit_linear_probe_learns_separable_clouds_with_training_statistics():
    gen = torch.Generator().manual_seed(5)
    centres = torch.randn(3, 6, generator=gen) * 4 + 20
    train_x, train_y = _clouds(gen, 150, centres)
    test_x, test_y = _clouds(gen, 90, centres)
    state = torch.random.get_rng_state()
    probe = con.fit_linear_probe(train_x, train_y, 3)
    assert torch.equal(torch.random.get_rng_state(), state), "the global random state must not change"
    torch.testing.assert_close(probe.mean, train_x.mean(dim=0))
    assert (probe.predict(test_x) == test_y).float().mean() > 0.95
    assert probe.logits(test_x).shape == (90, 3)
    assert not any(p.requires_grad for p in probe.linear.parameters())
    # a test set of one class is still classified with the training statistics
    assert (probe.predict(centres[1] + torch.randn(50, 6, generator=gen)) == 1).float().mean() > 0.9
    torch.testing.assert_close(con.linear_probe(train_x, train_y, test_x, 3), probe.predict(test_x))


def test_fit_linear_probe_without_standardising_keeps_one_image_per_class_usable():
    # Two classes that differ in feature 0 only; the 63 other features are noise of scale 1. With one
    # training image per class, "standardising" divides each noise feature by the spread of two draws,
    # often tiny, so test noise is blown up; the raw features keep the signal.
    gen = torch.Generator().manual_seed(8)
    def draw(n: int, label: int) -> torch.Tensor:
        x = torch.randn(n, 64, generator=gen)
        x[:, 0] += 12.0 * (2 * label - 1)
        return x
    train_x, train_y = torch.cat([draw(1, 0), draw(1, 1)]), torch.tensor([0, 1])
    test_x, test_y = torch.cat([draw(200, 0), draw(200, 1)]), torch.tensor([0] * 200 + [1] * 200)
    raw = con.fit_linear_probe(train_x, train_y, 2, lr=0.01, standardize=False)
    assert torch.equal(raw.mean, torch.zeros(64)) and torch.equal(raw.std, torch.ones(64))
    torch.testing.assert_close(raw.logits(test_x), raw.linear(test_x))
    raw_acc = (raw.predict(test_x) == test_y).float().mean().item()
    standardised = con.fit_linear_probe(train_x, train_y, 2, lr=0.01)
    standardised_acc = (standardised.predict(test_x) == test_y).float().mean().item()
    assert raw_acc > 0.95 and standardised_acc < raw_acc - 0.1, (raw_acc, standardised_acc)


def test_fit_linear_probe_is_seeded_and_works_inside_inference_mode():
    gen = torch.Generator().manual_seed(6)
    x, y = _clouds(gen, 60, torch.randn(2, 4, generator=gen))
    first = con.fit_linear_probe(x, y, 2, steps=5, seed=3)
    with torch.inference_mode():
        second = con.fit_linear_probe(x, y, 2, steps=5, seed=3)
    torch.testing.assert_close(first.linear.weight, second.linear.weight)
    torch.manual_seed(0)
    expected = nn.Linear(4, 2)  # seed 0 draws the same initial weights as torch.manual_seed(0) + nn.Linear
    untrained = con.fit_linear_probe(x, y, 2, steps=1, lr=1e-12, seed=0)
    torch.testing.assert_close(untrained.linear.weight, expected.weight, atol=1e-6, rtol=0)
    single = con.fit_linear_probe(x[:1], y[:1], 2, steps=2)
    assert torch.equal(single.std, torch.ones(4))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"train_labels": torch.zeros(5, dtype=torch.int64)}, ValueError, "expected 4 labels"),
        ({"train_labels": torch.tensor([0, 1, 2, 3])}, ValueError, r"class indices in \[0, 2\]"),
        ({"num_classes": 0}, ValueError, "num_classes"),
        ({"steps": 0}, ValueError, "steps"),
        ({"lr": -1.0}, ValueError, "lr"),
    ],
)
def test_fit_linear_probe_rejects_bad_input(kwargs, error, message):
    args = {"train_features": torch.randn(4, 3), "train_labels": torch.tensor([0, 1, 2, 0]), "num_classes": 3}
    args.update(kwargs)
    with pytest.raises(error, match=message):
        con.fit_linear_probe(**args)


# ---------------------------------------------------------------- the tiny CLIP


def test_word_vocabulary_splits_encodes_pads_and_drops_unknown_words():
    vocab = tc.WordVocabulary.from_texts(["A photo of a T-shirt.", "a sneaker"])
    assert vocab.words == ("<pad>", "a", "of", "photo", "sneaker", "t-shirt")
    assert len(vocab) == 6 and "photo" in vocab and "<pad>" not in vocab and "dog" not in vocab
    ids = vocab.encode(["a photo of a sneaker", "my new t-shirt!"])
    assert ids.tolist() == [[1, 3, 2, 1, 4], [5, 0, 0, 0, 0]]
    assert vocab.decode(ids) == ["a photo of a sneaker", "t-shirt"]
    assert vocab.encode(["a photo"], length=1).tolist() == [[1]]
    assert vocab.encode(["zebra"]).tolist() == [[0]]
    assert vocab.unknown_words(["my new t-shirt", "a dog"]) == ["dog", "my", "new"]
    assert "6 words" not in repr(vocab) and "5 words" in repr(vocab)
    with pytest.raises(ValueError, match="at least one word"):
        tc.WordVocabulary([])
    with pytest.raises(TypeError, match="text: expected a string"):
        tc.WordVocabulary.split(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="texts: expected a list of strings"):
        vocab.encode("a photo")  # type: ignore[arg-type]


def test_caption_bank_samples_captions_of_each_labels_class():
    bank = tc.CaptionBank([["cat", "kitten"], ["dog"]], ["a photo of a {}", "my {}"])
    assert bank.captions == (
        "a photo of a cat", "my cat", "a photo of a kitten", "my kitten", "a photo of a dog", "my dog"
    )
    assert len(bank) == 6 and bank.counts.tolist() == [4, 2] and bank.offsets.tolist() == [0, 4]
    labels = torch.tensor([0, 1, 1, 0] * 50)
    tokens, index = bank.sample(labels, torch.Generator().manual_seed(0))
    assert tokens.shape == (200, bank.tokens.shape[1])
    assert torch.equal(bank.caption_class[index], labels)
    assert set(index[labels == 0].tolist()) == {0, 1, 2, 3}  # every caption of the class gets drawn
    again, _ = bank.sample(labels, torch.Generator().manual_seed(0))
    assert torch.equal(tokens, again)
    assert "6 captions for 2 classes" in repr(bank)
    shared = tc.CaptionBank([["cat"]], ["{}"], vocabulary=bank.vocabulary)
    assert shared.vocabulary is bank.vocabulary
    with pytest.raises(ValueError, match=r"class indices in \[0, 1\]"):
        bank.sample(torch.tensor([2]))
    with pytest.raises(ValueError, match="containing"):
        tc.CaptionBank([["cat"]], ["a photo"])
    with pytest.raises(TypeError, match="templates"):
        tc.CaptionBank([["cat"]], "a {}")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="descriptions: expected one list"):
        tc.CaptionBank("cat", ["{}"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="for class 1"):
        tc.CaptionBank([["cat"], []], ["{}"])


def test_bag_of_words_encoder_ignores_padding():
    torch.manual_seed(0)
    encoder = tc.BagOfWordsTextEncoder(vocab_size=10, embed_dim=4, width=8)
    short = encoder(torch.tensor([[3, 5]]))
    padded = encoder(torch.tensor([[3, 5, 0, 0, 0]]))
    torch.testing.assert_close(short, padded)
    assert encoder(torch.zeros(2, 3, dtype=torch.int64)).shape == (2, 4)  # all padding: no division by zero
    with pytest.raises(TypeError, match="tokens"):
        encoder(torch.zeros(1, 3))


def test_tiny_clip_returns_unit_embeddings_and_clamps_its_temperature():
    torch.manual_seed(0)
    model = tc.TinyCLIP(cu.TinyVGG(1, 4, 8), tc.BagOfWordsTextEncoder(6, 8))
    assert model.temperature == pytest.approx(0.07, rel=1e-5)
    images, tokens = torch.randn(3, 1, 28, 28), torch.tensor([[1, 2], [3, 0], [4, 5]])
    image_emb, text_emb = model(images, tokens)
    torch.testing.assert_close(image_emb.norm(dim=1), torch.ones(3))
    torch.testing.assert_close(text_emb.norm(dim=1), torch.ones(3))
    assert model.encode_image(images, normalize=False).norm(dim=1).ne(1).any()
    assert model.encode_text(tokens, normalize=False).shape == (3, 8)
    loss = con.clip_loss(image_emb, text_emb, model.logit_scale)
    loss.backward()
    assert model.logit_scale.grad is not None
    with torch.no_grad():
        model.logit_scale.fill_(9.0)
    model.clamp_logit_scale_()
    assert model.logit_scale.item() == pytest.approx(math.log(100))
    with pytest.raises(TypeError, match="text_encoder"):
        tc.TinyCLIP(cu.TinyVGG(), "words")  # type: ignore[arg-type]


def test_tiny_clip_learns_to_match_classes_in_a_few_steps(fashion_small):
    train_x, train_y, _, _ = fashion_small
    bank = tc.CaptionBank([[f"class{c}"] for c in range(10)], ["a {}", "the {}"])
    torch.manual_seed(0)
    model = tc.TinyCLIP(cu.TinyVGG(1, 8, 16), tc.BagOfWordsTextEncoder(len(bank.vocabulary), 16))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    loader = cu.TensorLoader(train_x, train_y, 128, shuffle=True, mean=[0.286], std=[0.353],
                             generator=torch.Generator().manual_seed(0))
    losses = []
    for _ in range(2):
        for images, labels in loader:
            tokens, _ = bank.sample(labels)
            loss = con.clip_loss(*model(images, tokens), model.logit_scale)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            model.clamp_logit_scale_()
            losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.5


# ---------------------------------------------------------------- preprocessing


def test_clip_preprocess_makes_three_channel_normalised_squares():
    gray = torch.full((2, 1, 28, 28), 255, dtype=torch.uint8)
    out = cc.clip_preprocess(gray, image_size=32, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    assert out.shape == (2, 3, 32, 32) and out.dtype == torch.float32
    torch.testing.assert_close(out, torch.full_like(out, 2.0))
    rect = torch.rand(1, 3, 20, 40)
    assert cc.clip_preprocess(rect, image_size=16).shape == (1, 3, 16, 16)
    torch.testing.assert_close(cc.clip_preprocess(gray), cc.clip_preprocess(gray.float() / 255))
    with pytest.raises(ValueError, match="channel"):
        cc.clip_preprocess(torch.zeros(1, 2, 8, 8))
    with pytest.raises(TypeError, match="uint8"):
        cc.clip_preprocess(torch.zeros(1, 3, 8, 8, dtype=torch.int32))


# ---------------------------------------------------------------- open_clip: loading, encoding


def test_hub_reachable_reports_connection_failures(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    assert cc.hub_reachable() is False

    class Connection:
        def __enter__(self):
            return self

        def __exit__(self, *args):
            return False

    monkeypatch.setattr(socket, "create_connection", lambda *args, **kwargs: Connection())
    assert cc.hub_reachable() is True


def test_cached_clip_checkpoint_looks_in_the_caches_without_network(monkeypatch, tmp_path):
    asked = []

    def fake_download(repo_id, filename, cache_dir=None, local_files_only=False):
        asked.append((repo_id, filename, local_files_only))
        if filename.endswith(".safetensors"):
            raise FileNotFoundError("not cached")
        return str(tmp_path / filename)

    monkeypatch.setattr(open_clip.pretrained, "hf_hub_download", fake_download)
    path = cc.cached_clip_checkpoint("ViT-B-32", "laion2b_s34b_b79k")
    assert path == str(tmp_path / "open_clip_pytorch_model.bin")
    assert asked == [("laion/CLIP-ViT-B-32-laion2B-s34B-b79K", "open_clip_model.safetensors", True),
                     ("laion/CLIP-ViT-B-32-laion2B-s34B-b79K", "open_clip_pytorch_model.bin", True)]
    monkeypatch.setattr(open_clip.pretrained, "hf_hub_download",
                        lambda **kwargs: (_ for _ in ()).throw(FileNotFoundError("nothing cached")))
    assert cc.cached_clip_checkpoint("ViT-B-32", "laion2b_s34b_b79k") is None
    # a named file on the hub, and weights served from a URL
    monkeypatch.setattr(open_clip, "get_pretrained_cfg", lambda model, tag: {"hf_hub": "org/repo/weights.bin"})
    asked.clear()
    monkeypatch.setattr(open_clip.pretrained, "hf_hub_download", fake_download)
    assert cc.cached_clip_checkpoint("ViT-B-32", "x") == str(tmp_path / "weights.bin")
    assert [name for _, name, _ in asked] == ["weights.safetensors", "weights.bin"]
    monkeypatch.setattr(open_clip, "get_pretrained_cfg", lambda model, tag: {"url": "https://example.org/w/model.pt"})
    assert cc.cached_clip_checkpoint("ViT-B-32", "x", cache_dir=tmp_path) is None
    (tmp_path / "model.pt").write_bytes(b"weights")
    assert cc.cached_clip_checkpoint("ViT-B-32", "x", cache_dir=tmp_path) == str(tmp_path / "model.pt")
    monkeypatch.setattr(open_clip, "get_pretrained_cfg", lambda model, tag: {})
    assert cc.cached_clip_checkpoint("ViT-B-32", "x") is None


def _offline(monkeypatch):
    monkeypatch.setattr(cc, "hub_reachable", lambda *args, **kwargs: False)
    monkeypatch.setattr(cc, "cached_clip_checkpoint", lambda *args, **kwargs: None)


def test_load_clip_offline_without_standins_raises_with_instructions(monkeypatch):
    _offline(monkeypatch)
    monkeypatch.delenv(STANDINS_ENV, raising=False)
    with pytest.raises(RuntimeError, match="internet connection.*COURSE_ALLOW_STANDINS=1"):
        cc.load_clip("ViT-B-32", "laion2b_s34b_b79k", device="cpu")


def test_load_clip_offline_with_standins_returns_a_labelled_random_model(monkeypatch, capsys):
    _offline(monkeypatch)
    monkeypatch.setenv(STANDINS_ENV, "1")
    loaded = cc.load_clip("ViT-B-32", "laion2b_s34b_b79k", device="cpu")
    banner = capsys.readouterr().out
    assert "STAND-IN WEIGHTS: a RANDOMLY INITIALISED ViT-B-32, NOT the pretrained 'laion2b_s34b_b79k' weights." in banner
    assert "huggingface.co cannot be reached" in banner
    assert loaded.is_pretrained is False and "STAND-IN" in loaded.label
    assert loaded.image_size == 224 and loaded.embed_dim == 512 and not loaded.model.training
    assert loaded.mean == pytest.approx((0.48145466, 0.4578275, 0.40821073))
    assert loaded.logit_scale == pytest.approx(math.log(1 / 0.07), rel=1e-4)
    assert loaded.tokenizer(["a photo of a cat"]).shape == (1, 77)  # the tokenizer works offline


def test_load_clip_falls_back_when_the_download_itself_fails(monkeypatch, capsys):
    monkeypatch.setattr(cc, "cached_clip_checkpoint", lambda *args, **kwargs: None)
    monkeypatch.setattr(cc, "hub_reachable", lambda *args, **kwargs: True)
    real = open_clip.create_model_and_transforms

    def failing(model_name, pretrained=None, **kwargs):
        if pretrained is not None:
            raise RuntimeError("Failed to download weights for tag")
        return real(model_name, pretrained=None, **kwargs)

    monkeypatch.setattr(open_clip, "create_model_and_transforms", failing)
    monkeypatch.setenv(STANDINS_ENV, "1")
    monkeypatch.setattr(open_clip, "list_pretrained_tags_by_model", lambda model: ["fake_tag"])
    loaded = cc.load_clip(SMALL_MODEL, "fake_tag", device="cpu")
    assert loaded.is_pretrained is False and "Failed to download" in capsys.readouterr().out
    monkeypatch.delenv(STANDINS_ENV)
    with pytest.raises(RuntimeError, match="could not get the pretrained weights 'fake_tag'"):
        cc.load_clip(SMALL_MODEL, "fake_tag", device="cpu")


def test_load_clip_loads_a_cached_checkpoint_file_directly(monkeypatch, tmp_path):
    torch.manual_seed(0)
    source, _, _ = open_clip.create_model_and_transforms(SMALL_MODEL, pretrained=None)
    checkpoint = tmp_path / "weights.pt"
    torch.save(source.state_dict(), checkpoint)
    monkeypatch.setattr(open_clip, "list_pretrained_tags_by_model", lambda model: ["fake_tag"])
    monkeypatch.setattr(open_clip, "get_pretrained_cfg", lambda model, tag: {
        "hf_hub": "org/repo/", "mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25),
        "interpolation": "bicubic", "resize_mode": "shortest"})
    monkeypatch.setattr(cc, "cached_clip_checkpoint", lambda *args, **kwargs: str(checkpoint))
    monkeypatch.setattr(cc, "hub_reachable", lambda *args, **kwargs: pytest.fail("must not touch the network"))
    loaded = cc.load_clip(SMALL_MODEL, "fake_tag", device="cpu")
    assert loaded.is_pretrained is True and loaded.label == f"{SMALL_MODEL} (fake_tag)"
    assert loaded.mean == (0.5, 0.5, 0.5) and loaded.std == (0.25, 0.25, 0.25)
    torch.testing.assert_close(loaded.model.visual.conv1.weight, source.visual.conv1.weight)


def test_load_clip_rejects_unknown_names():
    with pytest.raises(ValueError, match="did you mean 'ViT-B-32'"):
        cc.load_clip("ViT-B-31", None)
    with pytest.raises(TypeError, match="model_name"):
        cc.load_clip(32, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pretrained: expected None or one of"):
        cc.load_clip("ViT-B-32", "imagenet")


@pytest.fixture(scope="module")
def small_clip() -> cc.LoadedCLIP:
    torch.manual_seed(0)
    return cc.load_clip(SMALL_MODEL, None, device="cpu")


@pytest.mark.parametrize("bf16_cpu", [False, True], ids=["fp32-cpu", "bf16-cpu"])
def test_encode_images_and_texts_give_unit_rows(small_clip, monkeypatch, bf16_cpu):
    """Unit rows on every CPU: fp32 where it has no bf16 matrix units, bf16 autocast where it has (Intel AMX)."""
    monkeypatch.setattr(cu.runtime, "cpu_supports_bf16", lambda: bf16_cpu)
    assert (cu.precision_policy("cpu").autocast_dtype is torch.bfloat16) == bf16_cpu
    images = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    emb = cc.encode_images(small_clip, images, batch_size=2)
    assert emb.shape == (3, small_clip.embed_dim) and not emb.is_inference()
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(3))  # normalised in float32, after autocast
    with torch.inference_mode():
        direct = small_clip.model.encode_image(cc.clip_preprocess(images, 224, small_clip.mean, small_clip.std))
    tolerance = {"atol": 2e-2, "rtol": 2e-2} if bf16_cpu else {"atol": 1e-5, "rtol": 1e-4}
    torch.testing.assert_close(emb, F.normalize(direct, dim=1), **tolerance)
    raw = cc.encode_images(small_clip, images, batch_size=2, normalize=False)  # bf16 results depend on the batch
    torch.testing.assert_close(F.normalize(raw, dim=1), emb, atol=1e-6, rtol=1e-6)  # the same batches, normalised
    texts = cc.encode_texts(small_clip, ["a photo of a cat", "a dog", "x"], batch_size=2)
    assert texts.shape == (3, small_clip.embed_dim)
    torch.testing.assert_close(texts.norm(dim=1), torch.ones(3))
    with pytest.raises(TypeError, match="clip: expected what load_clip"):
        cc.encode_images(small_clip.model, images)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="texts: expected a list of strings"):
        cc.encode_texts(small_clip, "a cat")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one sentence"):
        cc.encode_texts(small_clip, [])


def test_zero_shot_classifier_matches_open_clips_own(small_clip):
    names, templates = ["cat", "dog", "car"], ["a photo of a {}.", "a drawing of a {}."]
    ours = cc.zero_shot_classifier(small_clip, names, templates)
    theirs = open_clip.build_zero_shot_classifier(small_clip.model, small_clip.tokenizer, names, templates).T
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)
    single = cc.zero_shot_classifier(small_clip, names, ["{}"])
    torch.testing.assert_close(single, cc.encode_texts(small_clip, names))
    with pytest.raises(ValueError, match="containing"):
        cc.zero_shot_classifier(small_clip, names, ["a photo"])
    with pytest.raises(TypeError, match="class_names"):
        cc.zero_shot_classifier(small_clip, "cat", ["{}"])  # type: ignore[arg-type]


def test_the_clip_helpers_live_in_three_modules_by_job():
    for module, names in ((con, ("clip_loss", "cosine_logits", "linear_probe")), (tc, ("patchify", "TinyCLIP", "CaptionBank")),
                          (cc, ("load_clip", "encode_images"))):
        for name in names:
            assert getattr(cu, name) is getattr(module, name)
            assert name in module.__all__
