"""Typical wrong answers (and correct alternatives) for lesson 02's exercises; run by tools.wrong_answers."""

from tools.wrong_answers import Answer

VIEWS_MANUAL_STATE = '''
def augmented_views(image, transform, k, seed=None):
    if k < 1:
        raise ValueError(f"k: expected at least 1 view, got {k}")
    if seed is None:
        return torch.stack([transform(image) for _ in range(k)])
    state = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        return torch.stack([transform(image) for _ in range(k)])
    finally:
        torch.set_rng_state(state)
'''

ANSWERS = {
    "ex1_build_pipelines": [
        Answer("the weak pipeline flips too", edits=(
            ("weak = v2.Compose([*to_tensor_and_resize, *to_normalised_float])",
             "weak = v2.Compose([*to_tensor_and_resize, v2.RandomHorizontalFlip(p=0.5), *to_normalised_float])"),)),
        Answer("Resize(size) keeps the aspect ratio", edits=(("v2.Resize((size, size))", "v2.Resize(size)"),)),
        Answer("ToDtype without scale=True", edits=(("v2.ToDtype(torch.float32, scale=True)",
                                                     "v2.ToDtype(torch.float32)"),)),
        Answer("Normalize with keyword tuples (correct too)", edits=(
            ("v2.Normalize(list(mean), list(std))", "v2.Normalize(mean=tuple(mean), std=tuple(std))"),), correct=True),
    ],
    "ex2_augmented_views": [
        Answer("ignores the seed", edits=(("        torch.manual_seed(seed)\n", "        pass\n"),)),
        Answer("one view repeated k times", edits=(("torch.stack([transform(image) for _ in range(k)])",
                                                    "torch.stack([transform(image)] * k)"),)),
        Answer("leaves the global random state changed", edits=(("with torch.random.fork_rng():", "if True:"),)),
        Answer("no check of k", edits=(("if k < 1:", "if False:"),)),
        Answer("saves and restores the RNG state by hand (correct too)", VIEWS_MANUAL_STATE, correct=True),
    ],
    "ex3_mixup_batch": [
        Answer("one_hot without num_classes", edits=(("F.one_hot(labels, num_classes)", "F.one_hot(labels)"),)),
        Answer("label weights swapped", edits=(("soft_labels = lam * one_hot + (1 - lam) * one_hot[perm]",
                                                "soft_labels = (1 - lam) * one_hot + lam * one_hot[perm]"),)),
        Answer("another permutation for the labels", edits=(
            ("(1 - lam) * one_hot[perm]", "(1 - lam) * one_hot[torch.randperm(images.shape[0], generator=generator)]"),)),
        Answer("lambda from torch.distributions.Beta (ignores the generator)", edits=(
            ("        seed = int(torch.randint(2**63 - 1, (1,), generator=generator))\n"
             "        lam = np.random.default_rng(seed).beta(alpha, alpha)",
             "        lam = torch.distributions.Beta(alpha, alpha).sample()"),)),
        Answer("ignores the generator for the permutation", edits=(
            ("torch.randperm(images.shape[0], generator=generator)", "torch.randperm(images.shape[0])"),)),
        Answer("torch.lerp for the images (correct too)", edits=(
            ("mixed_images = lam * images + (1 - lam) * images[perm]",
             "mixed_images = torch.lerp(images[perm], images, lam)"),), correct=True),
    ],
    "ex4_soft_cross_entropy": [
        Answer("sum instead of mean over samples", edits=((".sum(dim=1).mean()", ".sum()"),)),
        Answer("log of softmax (overflows)", edits=(("F.log_softmax(logits, dim=1)", "logits.softmax(dim=1).log()"),)),
        Answer("forgets the minus sign", edits=(("return -(targets * log_probs)", "return (targets * log_probs)"),)),
        Answer("class indices not handled", edits=(("if targets.ndim == 1:", "if False:"),)),
        Answer("F.cross_entropy takes probabilities (correct too)", code='''
def soft_cross_entropy(logits, targets):
    return F.cross_entropy(logits, targets)
''', correct=True),
    ],
    "ex5_random_hflip_batch": [
        Answer("flips upside down", edits=(("images.flip(-1)", "images.flip(-2)"),)),
        Answer("one coin for the whole batch", edits=(
            ("torch.rand(images.shape[0], generator=generator, device=images.device) < p",
             "(torch.rand(1, generator=generator, device=images.device) < p).expand(images.shape[0])"),)),
        Answer("flips with probability 1 - p", edits=(("device=images.device) < p", "device=images.device) > p"),)),
        Answer("ignores the generator", edits=(("generator=generator, device=images.device",
                                                "device=images.device"),)),
        Answer("no check of p", edits=(("if not 0.0 <= p <= 1.0:", "if False:"),)),
        Answer("a masked copy (correct too)", edits=(
            ("    return torch.where(flip.view(-1, *([1] * (images.ndim - 1))), images.flip(-1), images)",
             "    out = images.clone()\n    out[flip] = images[flip].flip(-1)\n    return out"),), correct=True),
    ],
}

CHOICE_STRATIFIED_SEEDS = '''
def choose_augmentation(images, labels, candidates, train, evaluate, seed=0):
    train_index, val_index = train_test_split(np.arange(len(images)), test_size=0.25, random_state=seed,
                                              stratify=labels.numpy())
    train_index, val_index = torch.from_numpy(train_index), torch.from_numpy(val_index)
    val_scores = {}
    for name, augment in candidates.items():
        accs = [evaluate(train(images[train_index], labels[train_index], augment, s), images[val_index],
                         labels[val_index]) for s in (seed, seed + 1)]
        val_scores[name] = sum(accs) / len(accs)
    best = max(val_scores.values())
    return [name for name, score in val_scores.items() if score == best][-1], val_scores
'''

CHOICE_ON_TEST = '''
def choose_augmentation(images, labels, candidates, train, evaluate, seed=0):
    val_scores = {}
    for name, augment in candidates.items():
        model = train(images, labels, augment, seed)
        val_scores[name] = float(evaluate(model, fm_test_images[:1000], fm_test_labels[:1000]))
    return max(val_scores, key=val_scores.get), val_scores
'''

ANSWERS["ex6_choose_augmentation"] = [
    Answer("chooses on the test set", CHOICE_ON_TEST),
    Answer("trains on all the images, validates on a part", edits=(
        ("model = train(images[train_index], labels[train_index], augment, seed)",
         "model = train(images, labels, augment, seed)"),)),
    Answer("a new split for every candidate", edits=(
        ("    for name, augment in candidates.items():      # same split and same seed for all: paired comparison\n",
         "    generator = torch.Generator().manual_seed(seed)\n"
         "    for name, augment in candidates.items():\n"
         "        order = torch.randperm(len(images), generator=generator)\n"
         "        val_index, train_index = order[:n_val], order[n_val:]\n"),)),
    Answer("picks the lowest score", edits=(("chosen = max(val_scores, key=val_scores.get)",
                                             "chosen = sorted(val_scores, key=val_scores.get)[0]"),)),
    Answer("augments the validation images too", edits=(
        ("val_scores[name] = float(evaluate(model, images[val_index], labels[val_index]))",
         "val_images = images[val_index]\n"
         "        if augment is not None:\n"
         "            val_images = (augment(val_images.float() / 255) * 255).round().to(torch.uint8)\n"
         "        val_scores[name] = float(evaluate(model, val_images, labels[val_index]))"),)),
    Answer("a split that ignores the seed", edits=(
        ("torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))",
         "torch.randperm(len(images))"),)),
    Answer("stratified split, two seeds per candidate, last of the best (correct too)", CHOICE_STRATIFIED_SEEDS,
           correct=True),
    Answer("a NumPy permutation for the split (correct too)", edits=(
        ("torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))",
         "torch.from_numpy(np.random.default_rng(seed).permutation(len(images)))"),), correct=True),
]
