"""Typical wrong answers (and correct alternatives) for lesson 00's exercises; run by tools.wrong_answers."""

from tools.wrong_answers import Answer

ANSWERS = {
    "ex1_to_normalized_chw": [
        Answer("reshape instead of permute", edits=(
            ("pixels.permute(2, 0, 1)", "pixels.reshape(pixels.shape[2], pixels.shape[0], pixels.shape[1])"),)),
        Answer("forgets to scale by 255", edits=(("pixels.permute(2, 0, 1).to(torch.float32) / 255",
                                                  "pixels.permute(2, 0, 1).to(torch.float32)"),)),
        Answer("divides by std before subtracting the mean", edits=(("return (x - mean) / std",
                                                                    "return x / std - mean"),)),
        Answer("a float64 result", edits=(("pixels.permute(2, 0, 1).to(torch.float32) / 255",
                                           "pixels.permute(2, 0, 1).to(torch.float64) / 255"),)),
        Answer("mean and std not reshaped to C×1×1", edits=(
            ("mean = torch.as_tensor(mean, dtype=torch.float32).reshape(-1, 1, 1)",
             "mean = torch.as_tensor(mean, dtype=torch.float32)"),
            ("std = torch.as_tensor(std, dtype=torch.float32).reshape(-1, 1, 1)",
             "std = torch.as_tensor(std, dtype=torch.float32)"))),
        Answer("statistics viewed as 3×1×1: only 3 channels work", edits=(
            (".reshape(-1, 1, 1)", ".view(3, 1, 1)"),)),
        Answer("movedim and torchvision's normalize (correct too)", code='''
def to_normalized_chw(image, mean, std):
    from torchvision.transforms.v2 import functional as TF
    x = torch.from_numpy(image.copy()).movedim(-1, 0).float() / 255
    return TF.normalize(x, mean=list(mean), std=list(std))
''', correct=True),
    ],
    "ex2_to_display_hwc": [
        Answer("truncates instead of rounding", edits=(("pixels.round().clamp(0, 255)", "pixels.clamp(0, 255)"),)),
        Answer("no clipping: uint8 wraps around", edits=(("pixels.round().clamp(0, 255)", "pixels.round()"),)),
        Answer("reshape instead of permute", edits=(
            ("pixels.permute(1, 2, 0).numpy()",
             "pixels.reshape(pixels.shape[1], pixels.shape[2], pixels.shape[0]).numpy()"),)),
        Answer("un-normalises the caller's tensor in place", edits=(
            ("(tensor.detach().cpu().to(torch.float32) * std + mean) * 255",
             "tensor.detach().mul_(std).add_(mean) * 255"),)),
        Answer("returns a tensor, not a NumPy array", edits=(("pixels.permute(1, 2, 0).numpy()",
                                                              "pixels.permute(1, 2, 0)"),)),
        Answer("clips the normalised values to [0, 1] before undoing", edits=(
            ("(tensor.detach().cpu().to(torch.float32) * std + mean) * 255",
             "(tensor.detach().cpu().to(torch.float32).clamp(0, 1) * std + mean) * 255"),)),
        Answer("clamp(min, max) and byte() (correct too)", edits=(
            ("pixels.round().clamp(0, 255).to(torch.uint8)",
             "torch.clamp(torch.round(pixels), min=0, max=255).byte()"),),
            correct=True),
    ],
    "ex3_bytes_for": [
        Answer("always 4 bytes per element", edits=(("* dtype.itemsize", "* 4"),)),
        Answer("bits instead of bytes", edits=(("* dtype.itemsize", "* dtype.itemsize * 8"),)),
        Answer("fits_in_memory ignores the fraction", edits=(("<= fraction * ram_bytes", "<= ram_bytes"),)),
        Answer("fits_in_memory with < instead of <=", edits=(("<= fraction * ram_bytes", "< fraction * ram_bytes"),)),
        Answer("element_size of an empty tensor (correct too)", edits=(
            ("* dtype.itemsize", "* torch.empty(0, dtype=dtype).element_size()"),), correct=True),
    ],
    "ex4_channel_mean_std": [
        Answer("sample std (correction=1)", edits=(("correction=0", "correction=1"),)),
        Answer("forgets to scale uint8 by 255", edits=(("        x = x / 255\n", "        pass\n"),)),
        Answer("reduces over the wrong dimensions", edits=(("dims = (0, 2, 3)", "dims = (0, 1, 2)"),)),
        Answer("averages per-image stds", edits=(("std = x.std(dim=dims, correction=0)",
                                                  "std = x.std(dim=(2, 3), correction=0).mean(dim=0)"),)),
        Answer("returns float64", edits=(("return mean.to(torch.float32), std.to(torch.float32)",
                                          "return mean, std"),)),
        Answer("divides by 255 whatever the dtype", edits=(
            ("    if images.dtype == torch.uint8:\n        x = x / 255\n", "    x = x / 255\n"),)),
        Answer("torch.std_mean (correct too)", edits=(
            ("    mean = x.mean(dim=dims)\n    std = x.std(dim=dims, correction=0)",
             "    std, mean = torch.std_mean(x, dim=dims, correction=0)"),), correct=True),
    ],
    "ex5_gray_to_rgb": [
        Answer("repeat, a copy (correct too: the instructions allow it)", edits=(
            ("return images.expand(*sizes)", "return images.repeat(*[3 if s == 3 else 1 for s in sizes])"),),
            correct=True),
        Answer("adds the channels as a new last axis", edits=(
            ("return images.expand(*sizes)", "return images.unsqueeze(-1).expand(*images.shape, 3)"),)),
        Answer("always the first dimension", edits=(("channel_dim = images.ndim - 3", "channel_dim = 0"),)),
        Answer("no check of the channel count", edits=(("if images.shape[channel_dim] != 1:", "if False:"),)),
        Answer("torch.broadcast_to (correct too)", edits=(
            ("return images.expand(*sizes)",
             "return torch.broadcast_to(images, [3 if s == 3 else images.shape[i] for i, s in enumerate(sizes)])"),),
            correct=True),
    ],
    "ex6_to_model_input": [
        Answer("keeps flip(0): upside down, still B, G, R", edits=(("x = x.flip(2)", "x = x.flip(0)"),)),
        Answer("keeps reshape instead of permute", edits=(
            ("x = x.permute(2, 0, 1)", "x = x.reshape(3, x.shape[0], x.shape[1])"),)),
        Answer("keeps dividing by 255 twice", edits=(
            ("TF.to_dtype(x, torch.float32, scale=True)", "TF.to_dtype(x, torch.float32, scale=True) / 255"),)),
        Answer("flip(1): mirrors the picture, still B, G, R", edits=(("x = x.flip(2)", "x = x.flip(1)"),)),
        Answer("drops the flip (treats the image as RGB)", edits=(("x = x.flip(2)", "x = x"),)),
        Answer("flips the last axis after permuting (mirrors the picture)", code='''
def to_model_input(bgr_image, mean, std):
    x = torch.from_numpy(bgr_image.copy()).permute(2, 0, 1).flip(2)
    x = TF.to_dtype(x, torch.float32, scale=True)
    return TF.normalize(x, mean=mean, std=std)
'''),
        Answer("reverses the statistics instead of the image", edits=(
            ("x = x.flip(2)", "x = x"),
            ("TF.normalize(x, mean=mean, std=std)",
             "TF.normalize(x, mean=torch.as_tensor(mean).flip(0), std=torch.as_tensor(std).flip(0))"))),
        Answer("ignores mean and std: always ImageNet's", edits=(
            ("TF.normalize(x, mean=mean, std=std)", "TF.normalize(x, mean=IMAGENET_MEAN, std=IMAGENET_STD)"),)),
        Answer("divides by 255 after normalising", edits=(
            ("TF.to_dtype(x, torch.float32, scale=True)", "x.to(torch.float32)"),
            ("return TF.normalize(x, mean=mean, std=std)", "return TF.normalize(x, mean=mean, std=std) / 255"))),
        Answer("NumPy: reverse the last axis, then transpose (correct too)", code='''
def to_model_input(bgr_image, mean, std):
    rgb = bgr_image[:, :, ::-1].astype(np.float32) / 255
    out = (rgb - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return torch.from_numpy(out.transpose(2, 0, 1).copy())
''', correct=True),
        Answer("permute first, then index the channels [2, 1, 0] (correct too)", code='''
def to_model_input(bgr_image, mean, std):
    x = torch.from_numpy(bgr_image).permute(2, 0, 1)[[2, 1, 0]].float() / 255
    m = torch.as_tensor(mean, dtype=torch.float32).view(3, 1, 1)
    s = torch.as_tensor(std, dtype=torch.float32).view(3, 1, 1)
    return (x - m) / s
''', correct=True),
        Answer("reuses Exercise 1 on the reversed channels (correct too)", code='''
def to_model_input(bgr_image, mean, std):
    return to_normalized_chw(np.ascontiguousarray(bgr_image[:, :, ::-1]), mean, std)
''', correct=True),
    ],
}
