"""Typical wrong answers (and correct alternatives) for lesson 03's exercises; run by tools.wrong_answers."""

from tools.wrong_answers import Answer

TRAIN_STEP = '''
def train_step(model, loader, loss_fn, optimizer, device):
    {train}
    loss_sum, correct, seen, batches = 0.0, 0, 0, 0
    for images, labels in loader:
        images, labels = {move}
        logits = model(images)
        loss = loss_fn(logits, labels)
        {zero}
        loss.backward()
        optimizer.step()
        batch = labels.shape[0]
        loss_sum += {loss_term}
        correct += (logits.argmax(dim=1) == labels).sum().item()
        seen += batch
        batches += 1
    return {{"loss": loss_sum / {loss_div}, "acc": {acc}}}
'''


def train_step(train="model.train()", move="images.to(device), labels.to(device)", zero="optimizer.zero_grad()",
               loss_term="loss.item() * batch", loss_div="seen", acc="correct / seen") -> str:
    return TRAIN_STEP.format(train=train, move=move, zero=zero, loss_term=loss_term, loss_div=loss_div, acc=acc)


EVAL_STEP = '''
def eval_step(model, loader, loss_fn, device):
    {mode}
    loss_sum, correct, seen, batches = 0.0, 0, 0, 0
    with {context}:
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            logits = model(images)
            batch = labels.shape[0]
            loss_sum += {loss_term}
            correct += (logits.argmax(dim=1) == labels).sum().item()
            seen += batch
            batches += 1
    return {{"loss": loss_sum / {loss_div}, "acc": {acc}}}
'''


def eval_step(mode="model.eval()", context="torch.inference_mode()", loss_term="loss_fn(logits, labels).item() * batch",
              loss_div="seen", acc="correct / seen") -> str:
    return EVAL_STEP.format(mode=mode, context=context, loss_term=loss_term, loss_div=loss_div, acc=acc)


CONV = '''
import math
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    for name, value in (("size", size), ("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation)):
        if value < 1:
            raise ValueError(f"{{name}}: expected an integer >= 1, got {{value}}")
    if padding < 0:
        raise ValueError(f"padding: expected an integer >= 0, got {{padding}}")
    out = {formula}
    if out < 1:
        raise ValueError("the kernel does not fit")
    return out
'''


FIT_LOOP = "    for epoch in range(1, epochs + 1):\n        model.train()  # every epoch: the evaluation at the end"
FIT_SELECT = "        if val_acc > best_acc:"
FIT_COPY = "best_state = {name: value.detach().clone() for name, value in model.state_dict().items()}"
FIT_TEST = ("    model.load_state_dict(best_state)\n"
            "    test_acc = accuracy(model, test_loader, device)\n")
FIT_OWN_STEPS = '''
def fixed_fit(model, train_loader, val_loader, test_loader, epochs, optimizer, loss_fn, device):
    history = {"train_loss": [], "val_acc": []}
    best_epoch, best_state = 0, None
    for epoch in range(1, epochs + 1):
        history["train_loss"].append(train_step(model, train_loader, loss_fn, optimizer, device)["loss"])
        history["val_acc"].append(eval_step(model, val_loader, loss_fn, device)["acc"])
        if history["val_acc"][-1] > max(history["val_acc"][:-1], default=-1.0):
            best_epoch, best_state = epoch, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return {**history, "best_epoch": best_epoch, "test_acc": eval_step(model, test_loader, loss_fn, device)["acc"]}
'''

ANSWERS = {
    "ex1_train_step": [
        Answer("loss averaged over batches, not samples", train_step(loss_term="loss.item()", loss_div="batches")),
        Answer("no optimizer.zero_grad()", train_step(zero="pass")),
        Answer("forgets model.train()", train_step(train="pass")),
        Answer("accuracy as a percentage", train_step(acc="100 * correct / seen")),
        Answer("never moves the batch to the device", train_step(move="images, labels")),
        Answer("zero_grad after backward (correct too)", train_step().replace(
            "        optimizer.zero_grad()\n        loss.backward()\n        optimizer.step()",
            "        loss.backward()\n        optimizer.step()\n        optimizer.zero_grad()"), correct=True),
    ],
    "ex2_eval_step": [
        Answer("forgets model.eval()", eval_step(mode="pass")),
        Answer("loss averaged over batches", eval_step(loss_term="loss_fn(logits, labels).item()", loss_div="batches")),
        Answer("keeps gradients", eval_step(context="torch.enable_grad()")),
        Answer("torch.no_grad instead of inference_mode (correct too)", eval_step(context="torch.no_grad()"),
               correct=True),
    ],
    "judge_fixed_fit": [
        Answer("keeps the alias model.state_dict() (no copy)", edits=((FIT_COPY, "best_state = model.state_dict()"),)),
        Answer("a shallow copy: model.state_dict().copy()",
               edits=((FIT_COPY, "best_state = model.state_dict().copy()"),)),
        Answer("model.train() once, before the epoch loop", edits=(
            (FIT_LOOP, "    model.train()\n    for epoch in range(1, epochs + 1):\n        # the evaluation at the end"),
        )),
        Answer("still chooses with the test set (average of validation and test)", edits=((FIT_SELECT, """\
        val_acc = (val_acc + accuracy(model, test_loader, device)) / 2
        if val_acc > best_acc:"""),)),
        Answer("chooses on validation but watches the test accuracy every epoch", edits=((FIT_SELECT, """\
        print(f"epoch {epoch}: test acc {accuracy(model, test_loader, device):.3f}")
        if val_acc > best_acc:"""),)),
        Answer("measures the test set before restoring the best weights", edits=((FIT_TEST, """\
    test_acc = accuracy(model, test_loader, device)
    model.load_state_dict(best_state)
"""),)),
        Answer("the latest of tied epochs (>=)", edits=((FIT_SELECT, "        if val_acc >= best_acc:"),)),
        Answer("the loss tensor accumulated instead of .item()", edits=((
            "loss_sum += loss.item() * len(labels)", "loss_sum += loss * len(labels)"),)),
        Answer("copy.deepcopy of the state (correct too)", edits=(
            ("def fixed_fit(", "import copy\n\n\ndef fixed_fit("),
            (FIT_COPY, "best_state = copy.deepcopy(model.state_dict())")),
            correct=True),
        Answer("a deep copy of the whole model (correct too)", edits=(
            ("def fixed_fit(", "import copy\n\n\ndef fixed_fit("),
            (FIT_COPY, "best_state = copy.deepcopy(model).state_dict()")), correct=True),
        Answer("own train_step and eval_step, best by max of the history (correct too)",
               "import copy\n" + FIT_OWN_STEPS, correct=True),
    ],
    "ex3_conv_output_size": [
        Answer("no ValueError when the kernel does not fit", CONV.format(
            formula="(size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1").replace(
            "    if out < 1:\n        raise ValueError(\"the kernel does not fit\")\n", "")),
        Answer("negative padding accepted", CONV.format(
            formula="(size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1").replace(
            "    if padding < 0:", "    if False:")),
        Answer("round instead of floor", CONV.format(
            formula="round((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1")),
        Answer("ignores dilation", CONV.format(formula="(size + 2 * padding - kernel_size) // stride + 1")),
        Answer("padding counted once", CONV.format(
            formula="(size + padding - dilation * (kernel_size - 1) - 1) // stride + 1")),
        Answer("math.floor of the true division (correct too)", CONV.format(
            formula="math.floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1"), correct=True),
    ],
    "ex4_tinyvgg": [
        Answer("classifier sized without the pooling", edits=(
            ("hidden_channels * (height // 2 // 2) * (width // 2 // 2)", "hidden_channels * height * width"),)),
        Answer("convolutions without padding", edits=(("kernel_size=3, padding=1)", "kernel_size=3)"),)),
        Answer("an int image_size not handled", edits=(
            ("(image_size, image_size) if isinstance(image_size, int) else image_size", "image_size"),)),
        Answer("one convolution per block", edits=(
            ("            nn.ReLU(),\n            nn.Conv2d(hidden_channels, hidden_channels, kernel_size=3, padding=1),\n"
             "            nn.ReLU(),\n            nn.MaxPool2d(kernel_size=2),\n        )\n        self.block_2",
             "            nn.ReLU(),\n            nn.MaxPool2d(kernel_size=2),\n        )\n        self.block_2"),)),
        Answer("F.relu in forward instead of ReLU modules (correct too)", edits=(
            ("            nn.ReLU(),\n", ""),
            ("        return self.classifier(self.block_2(self.block_1(x)))", """        def block(convs, x):
            first, second, pool = convs
            return pool(F.relu(second(F.relu(first(x)))))
        return self.classifier(block(self.block_2, block(self.block_1, x)))""")), correct=True),
    ],
    "ex5_most_confused": [
        Answer("includes the diagonal", edits=(("if i != j and confusion[i, j] > 0]", "if confusion[i, j] > 0]"),)),
        Answer("smallest first", edits=(("cells.sort(key=lambda cell: (-cell[0], cell[1], cell[2]))",
                                         "cells.sort(key=lambda cell: (cell[0], cell[1], cell[2]))"),)),
        Answer("(predicted, true) instead of (true, predicted)", edits=(
            ("return [(i, j, count) for count, i, j in cells[:k]]", "return [(j, i, count) for count, i, j in cells[:k]]"),)),
        Answer("counts left as tensors", edits=(("cells = [(int(confusion[i, j]), i, j)", "cells = [(confusion[i, j], i, j)"),)),
        Answer("sorted() over (true, predicted, count) tuples (correct too)", code='''
def most_confused(confusion, k):
    size = confusion.shape[0]
    cells = [(i, j, int(confusion[i, j])) for i in range(size) for j in range(size) if i != j and confusion[i, j] > 0]
    return sorted(cells, key=lambda cell: (-cell[2], cell[0], cell[1]))[:k]
''', correct=True),
    ],
}
