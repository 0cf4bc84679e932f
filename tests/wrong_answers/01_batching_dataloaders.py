"""Typical wrong answers (and correct alternatives) for lesson 01's exercises; run by tools.wrong_answers."""

from tools.wrong_answers import Answer

STATS_MEAN_OF_BATCHES = '''
def loader_channel_stats(loader):
    means, stds = [], []
    for images, _ in loader:
        x = torch.as_tensor(images).to(torch.float64)
        means.append(x.mean(dim=(0, 2, 3)))
        stds.append(x.std(dim=(0, 2, 3), correction=0))
    return torch.stack(means).mean(dim=0), torch.stack(stds).mean(dim=0)
'''

STATS_TWO_PASSES = '''
def loader_channel_stats(loader):
    total, count = 0, 0
    for images, _ in loader:
        x = torch.as_tensor(images).to(torch.float64)
        total = total + x.sum(dim=(0, 2, 3))
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    squares = 0
    for images, _ in loader:
        x = torch.as_tensor(images).to(torch.float64)
        squares = squares + (x - mean.reshape(1, -1, 1, 1)).square().sum(dim=(0, 2, 3))
    return mean, (squares / count).sqrt()
'''

STATS_CONCATENATE = '''
def loader_channel_stats(loader):
    batches = [torch.as_tensor(images).to(torch.float64) for images, _ in loader]
    if not batches:
        raise ValueError("loader: expected at least one batch, got none")
    std, mean = torch.std_mean(torch.cat(batches), dim=(0, 2, 3), correction=0)
    return mean, std
'''

EVALUATE_BATCH_MEAN = '''
def evaluate(model, dataset, batch_size):
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    model.eval()
    predictions, batch_accuracies = [], []
    with torch.no_grad():
        for images, labels in loader:
            predicted = model(images).argmax(dim=1)
            predictions.append(predicted)
            batch_accuracies.append((predicted == labels).float().mean().item())
    return sum(batch_accuracies) / len(batch_accuracies), torch.cat(predictions)
'''

EVALUATE_ONLY_DROP_LAST = EVALUATE_BATCH_MEAN.replace("shuffle=False", "shuffle=True")  # still shuffles

EVALUATE_TWO_PASSES = '''
def evaluate(model, dataset, batch_size):
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    model.eval()
    with torch.no_grad():
        predictions = torch.cat([model(images).argmax(dim=1) for images, _ in loader])
    labels = torch.cat([labels for _, labels in loader])
    return (predictions == labels).float().mean().item(), predictions
'''

EVALUATE_WEIGHTED_BATCHES = '''
def evaluate(model, dataset, batch_size):
    loader = DataLoader(dataset, batch_size=batch_size)
    model.eval()
    predictions, weighted, count = [], 0.0, 0
    with torch.no_grad():
        for images, labels in loader:
            predicted = model(images).argmax(dim=1)
            predictions.append(predicted)
            weighted += (predicted == labels).float().mean().item() * len(labels)
            count += len(labels)
    return weighted / count, torch.cat(predictions)
'''

EVALUATE_NO_LOADER = '''
def evaluate(model, dataset, batch_size):
    model.eval()
    predictions, labels = [], []
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            samples = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
            predictions.append(model(torch.stack([image for image, _ in samples])).argmax(dim=1))
            labels.append(torch.tensor([int(label) for _, label in samples]))
    predictions = torch.cat(predictions)
    return (predictions == torch.cat(labels)).double().mean(), predictions
'''

CSV_MODULE = '''
class CsvImageDataset(Dataset):
    def __init__(self, csv_path, image_dir, transform=None, skip=()):
        import csv
        with open(csv_path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        self.classes = sorted({row["label"] for row in rows})
        self.class_to_idx = {name: index for index, name in enumerate(self.classes)}
        self.samples = []
        for row in rows:
            if row["filename"] in skip:
                continue
            path = Path(image_dir) / row["filename"]
            if not path.exists():
                raise ValueError(f"no file for the row {row['filename']}")
            self.samples.append((path, self.class_to_idx[row["label"]]))
        self.transform = transform

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, label = self.samples[index]
        image = read_rgb(path)
        return (self.transform(image) if self.transform else image), label
'''

CSV_HEADER_AS_DATA = CSV_MODULE.replace("list(csv.DictReader(handle))",
                                        "[dict(zip(('filename', 'label'), row)) for row in csv.reader(handle)]")

CSV_CLASSES_OF_KEPT_ROWS = CSV_MODULE.replace(
    '        self.classes = sorted({row["label"] for row in rows})\n',
    '        self.classes = sorted({row["label"] for row in rows if row["filename"] not in skip})\n')

CSV_CHECKS_SKIPPED_ROWS = CSV_MODULE.replace(
    '''            if row["filename"] in skip:
                continue
            path = Path(image_dir) / row["filename"]
            if not path.exists():
                raise ValueError(f"no file for the row {row['filename']}")
''', '''            path = Path(image_dir) / row["filename"]
            if not path.exists():
                raise ValueError(f"no file for the row {row['filename']}")
            if row["filename"] in skip:
                continue
''')

CSV_READS_IN_INIT = CSV_MODULE.replace(
    "        self.transform = transform\n",
    "        self.transform = transform\n        self.images = [read_rgb(path) for path, _ in self.samples]\n").replace(
    "        image = read_rgb(path)\n", "        image = self.images[index]\n")


ANSWERS = {
    "ex1_iterations_per_epoch": [
        Answer("ignores drop_last", edits=(("if drop_last or remainder == 0:", "if remainder == 0:"),)),
        Answer("always rounds down", edits=(("    return full_batches + 1", "    return full_batches"),)),
        Answer("an extra batch when n divides evenly", edits=(("if drop_last or remainder == 0:", "if drop_last:"),)),
        Answer("accepts True as a number", edits=(("if isinstance(value, bool) or not isinstance(value, int):",
                                                   "if not isinstance(value, int):"),)),
        Answer("ceiling division by negation (correct too)", edits=(
            ("    full_batches, remainder = divmod(n, batch_size)\n"
             "    if drop_last or remainder == 0:\n        return full_batches\n    return full_batches + 1",
             "    return n // batch_size if drop_last else -(-n // batch_size)"),), correct=True),
    ],
    "ex2_loader_channel_stats": [
        Answer("mean of per-batch statistics", STATS_MEAN_OF_BATCHES),
        Answer("sample variance (divides by count - 1)", edits=(("total_sq / count - mean.square()",
                                                                 "(total_sq - count * mean.square()) / (count - 1)"),)),
        Answer("iterates the loader twice", STATS_TWO_PASSES),
        Answer("concatenate, then std_mean (correct too)", STATS_CONCATENATE, correct=True),
    ],
    "ex3_image_file_dataset": [
        Answer("no check that labels match paths", edits=(("if len(paths) != len(labels):", "if False:"),)),
        Answer("ignores the transform", edits=(("            image = self.transform(image)", "            pass"),)),
        Answer("label as a float", edits=(("self.labels = [int(label) for label in labels]",
                                           "self.labels = [float(label) for label in labels]"),)),
        Answer("torchvision.io.decode_image (correct too)", edits=(
            ('image = cu.decode_image(str(self.paths[index]), mode="UNCHANGED")',
             "import torchvision\n        image = torchvision.io.decode_image(str(self.paths[index]))"),), correct=True),
    ],
    "ex4_build_image_folder": [
        Answer("folders named by label number", edits=(("folder = root / class_names[int(labels[index])]",
                                                        "folder = root / str(int(labels[index]))"),)),
        Answer("class_to_idx in the given order, not ImageFolder's", edits=(
            ("return dataset, dataset.class_to_idx",
             "return dataset, {name: i for i, name in enumerate(class_names)}"),)),
        Answer("ignores the transform", edits=(("ImageFolder(root, transform=transform)", "ImageFolder(root)"),)),
        Answer("torchvision.io.write_png (correct too)", edits=(
            ('cu.encode_png(images[index], folder / f"{index:06d}.png")',
             'torchvision.io.write_png(images[index], str(folder / f"{index:06d}.png"))'),
            ("    root = Path(root)\n", "    import torchvision\n    root = Path(root)\n")), correct=True),
    ],
    "ex5_memmap_dataset": [
        Answer("loads the whole file into memory", edits=(('np.load(npy_path, mmap_mode="r")', "np.load(npy_path)"),)),
        Answer("a tensor over the read-only memory map", edits=(("torch.from_numpy(np.array(self.images[index]))",
                                                                 "torch.from_numpy(self.images[index])"),)),
        Answer("label as a NumPy integer", edits=(("return image, int(self.labels[index])",
                                                   "return image, self.labels[index]"),)),
        Answer("no check of the label count", edits=(("if len(labels) != self.images.shape[0]:", "if False:"),)),
        Answer("torch.tensor copies the row (correct too)", edits=(
            ("torch.from_numpy(np.array(self.images[index]))", "torch.tensor(self.images[index])"),), correct=True),
    ],
    "ex6_evaluate": [
        Answer("keeps drop_last=True", edits=(("shuffle=False)", "shuffle=False, drop_last=True)"),)),
        Answer("keeps shuffle=True", edits=(("shuffle=False)", "shuffle=True)"),)),
        Answer("keeps the mean of per-batch accuracies", EVALUATE_BATCH_MEAN),
        Answer("fixes only drop_last", EVALUATE_ONLY_DROP_LAST),
        Answer("divides by batches x batch size", edits=(("return correct / len(dataset)",
                                                          "return correct / (len(loader) * batch_size)"),)),
        Answer("a second pass over the loader for the labels", EVALUATE_TWO_PASSES),
        Answer("batch accuracies weighted by batch size (correct too)", EVALUATE_WEIGHTED_BATCHES, correct=True),
        Answer("batches built by hand, no DataLoader (correct too)", EVALUATE_NO_LOADER, correct=True),
    ],
    "ex7_csv_dataset": [
        Answer("classes in the order they first appear", edits=(
            ('self.classes = sorted(table["label"].unique())', 'self.classes = list(table["label"].unique())'),)),
        Answer("classes of the kept rows only", CSV_CLASSES_OF_KEPT_ROWS),
        Answer("the header line read as a row", CSV_HEADER_AS_DATA),
        Answer("ignores skip", edits=(("            if filename in skip:", "            if False:"),)),
        Answer("label as the class name", edits=(("self.samples.append((path, self.class_to_idx[label]))",
                                                  "self.samples.append((path, label))"),)),
        Answer("label as a tensor", edits=(("        return image, label",
                                            "        return image, torch.tensor(label)"),)),
        Answer("paths as strings", edits=(("path = Path(image_dir) / filename",
                                           "path = os.path.join(image_dir, filename)"),
                                          ("if not path.is_file():", "if not os.path.isfile(path):"))),
        Answer("cu.decode_image: transparency dropped (EXIF applied)", edits=(("image = read_rgb(path)",
                                                                         "image = cu.decode_image(str(path))"),)),
        Answer("ignores the transform", edits=(("            image = self.transform(image)", "            pass"),)),
        Answer("reads every image in __init__", CSV_READS_IN_INIT),
        Answer("no check for missing files", edits=(("if not path.is_file():", "if False:"),)),
        Answer("checks the skipped rows too", CSV_CHECKS_SKIPPED_ROWS),
        Answer("the csv module (correct too)", CSV_MODULE, correct=True),
        Answer("classes from a set, skip as a set (correct too)", edits=(
            ('self.classes = sorted(table["label"].unique())', 'self.classes = sorted(set(table["label"]))'),
            ("skip = set(skip)", "skip = frozenset(skip)")), correct=True),
    ],
}
