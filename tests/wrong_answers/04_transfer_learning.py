"""Typical wrong answers (and correct alternatives) for lesson 04's exercises; run by tools.wrong_answers."""

from tools.wrong_answers import Answer

FREEZE_AFTER = '''
def prepare_feature_extraction(model, num_classes):
    if isinstance(getattr(model, "fc", None), nn.Linear):
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    else:
        position = max(i for i, layer in enumerate(model.classifier) if isinstance(layer, nn.Linear))
        model.classifier[position] = nn.Linear(model.classifier[position].in_features, num_classes)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model
'''

BN_EVAL_ONLY = '''
def finetune_setup(model, num_classes, head_lr=1e-2, backbone_lr=1e-3):
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()
            module.requires_grad_(False)
    cu.replace_head(model, num_classes)
    optimizer = torch.optim.AdamW(cu.param_groups(model, head_lr=head_lr, backbone_lr=backbone_lr))
    return model, optimizer
'''

BN_MOMENTUM_ZERO = BN_EVAL_ONLY.replace(
    "module.eval()",
    "module.momentum = 0.0    # the statistics stay, but training mode normalises with the batch's")

TORCHVISION_FROZEN_BN = '''
from torchvision.ops.misc import FrozenBatchNorm2d


def finetune_setup(model, num_classes, head_lr=1e-2, backbone_lr=1e-3):
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(module.num_features, eps=module.eps)
            frozen.load_state_dict(module.state_dict(), strict=False)      # no num_batches_tracked
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, child, frozen)
    head_name, _ = cu.find_head(model)
    cu.replace_head(model, num_classes)
    head_ids = {id(p) for p in model.get_submodule(head_name).parameters()}
    optimizer = torch.optim.AdamW([
        {"params": [p for p in model.parameters() if id(p) in head_ids], "lr": head_lr},
        {"params": [p for p in model.parameters() if p.requires_grad and id(p) not in head_ids], "lr": backbone_lr},
    ])
    return model, optimizer
'''

NORM_EVAL = '''
def finetune_setup(model, num_classes, head_lr=1e-2, backbone_lr=1e-3):
    norms = [module for module in model.modules() if isinstance(module, nn.BatchNorm2d)]
    for module in norms:
        module.requires_grad_(False)
    plain_train = model.train

    def train(mode=True):                    # as mmcv's norm_eval: batch norm stays in eval mode
        plain_train(mode)
        for module in norms:
            module.eval()
        return model

    model.train = train
    cu.replace_head(model, num_classes)
    optimizer = torch.optim.AdamW(cu.param_groups(model, head_lr=head_lr, backbone_lr=backbone_lr))
    return model, optimizer
'''

LEAKS_FILECMP = '''
import filecmp


def find_leaks(train_files, test_files):
    return sorted({str(t) for t in test_files if any(filecmp.cmp(t, s, shallow=False) for s in train_files)})
'''

ANSWERS = {
    "ex1_prepare_feature_extraction": [
        Answer("forgets to freeze", edits=(("parameter.requires_grad_(False)", "pass"),)),
        Answer("freezes after replacing the head (the new head is frozen too)", FREEZE_AFTER),
        Answer("replaces the first Linear of the classifier", edits=(("position = max(", "position = min("),)),
        Answer("hard-codes 512 input features", edits=(("nn.Linear(model.fc.in_features, num_classes)",
                                                        "nn.Linear(512, num_classes)"),)),
        Answer("replaces the classifier's last layer, classifier[-1] (a Dropout or Softmax in some models)", edits=(
            ("position = max(i for i, layer in enumerate(model.classifier) if isinstance(layer, nn.Linear))",
             "position = -1"),)),
        Answer("the last Linear found by a list (correct too)", edits=(
            ("position = max(i for i, layer in enumerate(model.classifier) if isinstance(layer, nn.Linear))",
             "position = [i for i, layer in enumerate(model.classifier) if isinstance(layer, nn.Linear)][-1]"),),
            correct=True),
    ],
    "ex2_discriminative_groups": [
        Answer("the head gets the smallest learning rate", edits=(("factor ** (len(groups) - 1 - index)",
                                                                   "factor ** index"),)),
        Answer("multiplies instead of dividing", edits=(("head_lr / factor **", "head_lr * factor **"),)),
        Answer("includes frozen parameters", edits=((" if p.requires_grad]", "]"),)),
        Answer("no check for forgotten parameters", edits=(("    if missing:", "    if False:"),)),
        Answer("raises for a frozen layer left out of the groups too", edits=(
            ("if p.requires_grad and id(p) not in covered]", "if id(p) not in covered]"),)),
        Answer("a negative exponent (correct too)", edits=(
            ("head_lr / factor ** (len(groups) - 1 - index)", "head_lr * factor ** -(len(groups) - 1 - index)"),),
            correct=True),
    ],
    "ex3_residual_block": [
        Answer("no projection when the shape changes", edits=(
            ("if in_channels == out_channels and stride == 1:", "if True:"),)),
        Answer("ReLU before the addition", edits=(("return F.relu(out + self.shortcut(x))",
                                                   "return F.relu(out) + self.shortcut(x)"),)),
        Answer("convolutions with biases", edits=(("bias=False", "bias=True"),)),
        Answer("nn.ReLU modules instead of F.relu (correct too)", edits=(
            ("        self.bn2 = nn.BatchNorm2d(out_channels)\n",
             "        self.bn2 = nn.BatchNorm2d(out_channels)\n        self.relu = nn.ReLU()\n"),
            ("out = F.relu(self.bn1(self.conv1(x)))", "out = self.relu(self.bn1(self.conv1(x)))"),
            ("return F.relu(out + self.shortcut(x))", "return self.relu(out + self.shortcut(x))")), correct=True),
    ],
    "ex4_macro_prf": [
        Answer("macro F1 as the harmonic mean of macro P and R", edits=(
            ("float(f1[occurs].mean())", "float(2 * precision[occurs].mean() * recall[occurs].mean()"
                                         " / (precision[occurs].mean() + recall[occurs].mean()))"),)),
        Answer("averages over all C classes", edits=(("occurs = (predicted + actual) > 0",
                                                      "occurs = predicted >= 0"),)),
        Answer("rows and columns swapped", edits=(("predicted, actual = counts.sum(dim=0), counts.sum(dim=1)",
                                                   "predicted, actual = counts.sum(dim=1), counts.sum(dim=0)"),)),
        Answer("0/0 gives NaN", edits=(
            ("precision = torch.where(predicted > 0, correct / predicted.clamp_min(1), torch.zeros_like(correct))",
             "precision = correct / predicted"),)),
        Answer("nan_to_num after plain divisions (correct too)", code='''
def macro_precision_recall_f1(confusion):
    counts = confusion.double()
    hits = counts.diagonal()
    predicted, actual = counts.sum(dim=0), counts.sum(dim=1)
    precision = torch.nan_to_num(hits / predicted)
    recall = torch.nan_to_num(hits / actual)
    f1 = torch.nan_to_num(2 * precision * recall / (precision + recall))
    keep = (predicted + actual) > 0
    return tuple(float(score[keep].mean()) for score in (precision, recall, f1))
''', correct=True),
        Answer("returns tensors", edits=(
            ("return float(precision[occurs].mean()), float(recall[occurs].mean()), float(f1[occurs].mean())",
             "return precision[occurs].mean(), recall[occurs].mean(), f1[occurs].mean()"),)),
    ],
    "ex5_find_leaks": [
        Answer("compares file names, not contents", edits=(
            ("return hashlib.sha256(Path(path).read_bytes()).hexdigest()", "return Path(path).name"),)),
        Answer("returns Path objects", edits=(("{str(path) for path in test_files",
                                               "{Path(path) for path in test_files"),)),
        Answer("not sorted", edits=(("return sorted({str(path)", "return list({str(path)"),)),
        Answer("filecmp, pair by pair (correct too)", LEAKS_FILECMP, correct=True),
    ],
    "ex6_finetune_setup": [
        Answer("batch norm only put in eval mode (the loop's model.train() undoes it)", BN_EVAL_ONLY),
        Answer("optimizer still built before the new head", edits=(
            ("    cu.replace_head(model, num_classes)\n", ""),
            ("    return model, optimizer", "    cu.replace_head(model, num_classes)\n    return model, optimizer"))),
        Answer("learning rates still passed by position, in the wrong order", edits=(
            ("cu.param_groups(model, head_lr=head_lr, backbone_lr=backbone_lr)",
             "cu.param_groups(model, backbone_lr, head_lr)"),)),
        Answer("momentum=0 instead of frozen batch norm (normalises with batch statistics)", BN_MOMENTUM_ZERO),
        Answer("freezes the backbone too (feature extraction, not fine-tuning)", edits=(
            ("    cu.replace_head(model, num_classes)\n",
             "    cu.replace_head(model, num_classes)\n    cu.freeze_backbone(model)\n"),)),
        Answer("hard-codes the default learning rates", edits=(
            ("cu.param_groups(model, head_lr=head_lr, backbone_lr=backbone_lr)",
             "cu.param_groups(model, head_lr=1e-2, backbone_lr=1e-3)"),)),
        Answer("torchvision's FrozenBatchNorm2d and hand-made groups (correct too)", TORCHVISION_FROZEN_BN,
               correct=True),
        Answer("batch norm kept in eval mode by the model's own train() (correct too)", NORM_EVAL, correct=True),
    ],
}
