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
