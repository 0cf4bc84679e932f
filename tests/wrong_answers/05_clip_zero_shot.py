"""Typical wrong answers (and correct alternatives) for lesson 05's exercises; run by tools.wrong_answers."""

from tools.wrong_answers import Answer

ANSWERS = {
    "ex1_cosine_logits": [
        Answer("forgets exp of the logit scale", edits=(("dtype=images.dtype, device=images.device).exp()",
                                                         "dtype=images.dtype, device=images.device)"),)),
        Answer("no normalisation", edits=(("images = F.normalize(image_embeddings, dim=1)",
                                           "images = image_embeddings"),
                                          ("texts = F.normalize(text_embeddings, dim=1)", "texts = text_embeddings"))),
        Answer("normalises over the batch", edits=(("F.normalize(image_embeddings, dim=1)",
                                                    "F.normalize(image_embeddings, dim=0)"),
                                                   ("F.normalize(text_embeddings, dim=1)",
                                                    "F.normalize(text_embeddings, dim=0)"))),
        Answer("cosine_similarity with broadcasting (correct too)", code='''
def cosine_logits(image_embeddings, text_embeddings, logit_scale):
    similarity = F.cosine_similarity(image_embeddings[:, None, :], text_embeddings[None, :, :], dim=2, eps=1e-12)
    return torch.as_tensor(logit_scale, dtype=similarity.dtype).exp() * similarity
''', correct=True),
    ],
    "ex2_zero_shot_predict": [
        Answer("softmax over the images", edits=(("logits.softmax(dim=1)", "logits.softmax(dim=0)"),)),
        Answer("returns (preds, probs)", edits=(("return probs, probs.argmax(dim=1)",
                                                 "return probs.argmax(dim=1), probs"),)),
        Answer("ignores logit_scale", edits=(("cosine_logits(image_embeddings, class_embeddings, logit_scale)",
                                              "cosine_logits(image_embeddings, class_embeddings, 0.0)"),)),
        Answer("argmax of the logits (correct too)", edits=(("return probs, probs.argmax(dim=1)",
                                                             "return probs, logits.argmax(dim=1)"),), correct=True),
    ],
    "ex3_ensemble_class_embeddings": [
        Answer("averages before normalising", edits=(("F.normalize(text_embeddings, dim=2).mean(dim=1)",
                                                      "text_embeddings.mean(dim=1)"),)),
        Answer("the average is not normalised", edits=(
            ("return F.normalize(F.normalize(text_embeddings, dim=2).mean(dim=1), dim=1)",
             "return F.normalize(text_embeddings, dim=2).mean(dim=1)"),)),
        Answer("averages over the classes", edits=((".mean(dim=1), dim=1)", ".mean(dim=0), dim=1)"),)),
        Answer("norms by hand (correct too)", code='''
def ensemble_class_embeddings(text_embeddings):
    unit = text_embeddings / text_embeddings.norm(dim=2, keepdim=True)
    mean = unit.mean(dim=1)
    return mean / mean.norm(dim=1, keepdim=True)
''', correct=True),
    ],
    "ex4_linear_probe": [
        Answer("standardises the test set with its own statistics", edits=(
            ("x_test = (test_features - mean) / std",
             "x_test = (test_features - test_features.mean(dim=0)) / (test_features.std(dim=0) + 1e-6)"),)),
        Answer("ignores steps", edits=(("for _ in range(steps):", "for _ in range(300):"),)),
        Answer("ignores lr", edits=(("lr=lr, weight_decay", "lr=0.05, weight_decay"),)),
        Answer("returns logits, not classes", edits=(("return probe(x_test).argmax(dim=1)", "return probe(x_test)"),)),
        Answer("torch.std_mean for the statistics (correct too)", edits=(
            ("    mean = train_features.mean(dim=0)\n    std = train_features.std(dim=0) + 1e-6",
             "    std, mean = torch.std_mean(train_features, dim=0)\n    std = std + 1e-6"),), correct=True),
    ],
    "ex5_clip_loss": [
        Answer("image-to-text direction only", edits=(
            ("return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2",
             "return F.cross_entropy(logits, targets)"),)),
        Answer("sum of the two directions", edits=(
            ("F.cross_entropy(logits.T, targets)) / 2", "F.cross_entropy(logits.T, targets))"),)),
        Answer("every target is class 0", edits=(
            ("targets = torch.arange(logits.shape[0], device=logits.device)",
             "targets = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)"),)),
        Answer("text-to-image logits computed separately (correct too)", edits=(
            ("F.cross_entropy(logits.T, targets)",
             "F.cross_entropy(cosine_logits(text_embeddings, image_embeddings, logit_scale), targets)"),),
               correct=True),
    ],
    "ex_clip_train_step": [
        Answer("the colleague's step unchanged", code='''
def clip_train_step(model, optimizer, images, tokens):
    image_embeddings = model.image_encoder(images)
    text_embeddings = model.text_encoder(tokens)
    multiplier = model.logit_scale.exp().item()
    logits = multiplier * image_embeddings @ text_embeddings.T
    targets = torch.arange(len(images), device=logits.device)
    loss = F.cross_entropy(logits, targets)
    loss.backward()
    model.clamp_logit_scale_()
    optimizer.step()
    return loss.item()
'''),
        Answer("leaves the model in evaluation mode", edits=(("    model.train()", "    pass"),)),
        Answer("raw dot products of unnormalised embeddings", edits=(
            ("image_embeddings, text_embeddings = model(images, tokens)",
             "image_embeddings, text_embeddings = model.image_encoder(images), model.text_encoder(tokens)"),
            ("loss = clip_loss(image_embeddings, text_embeddings, model.logit_scale)",
             "logits = model.logit_scale.exp() * image_embeddings @ image_embeddings.new_tensor(text_embeddings).T\n"
             "    targets = torch.arange(len(images))\n"
             "    loss = (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2"),)),
        Answer("logit scale cut off the graph with .item()", edits=(
            ("clip_loss(image_embeddings, text_embeddings, model.logit_scale)",
             "clip_loss(image_embeddings, text_embeddings, model.logit_scale.item())"),)),
        Answer("image-to-text direction only", edits=(
            ("loss = clip_loss(image_embeddings, text_embeddings, model.logit_scale)",
             "loss = F.cross_entropy(cosine_logits(image_embeddings, text_embeddings, model.logit_scale), "
             "torch.arange(len(images)))"),)),
        Answer("no zero_grad", edits=(("    optimizer.zero_grad()", "    pass"),)),
        Answer("clamps before optimizer.step()", edits=(
            ("    optimizer.step()\n    model.clamp_logit_scale_()",
             "    model.clamp_logit_scale_()\n    optimizer.step()"),)),
        Answer("no clamp", edits=(("    model.clamp_logit_scale_()", "    pass"),)),
        Answer("normalise, logits and both directions by hand, clamp with .data (correct too)", code='''
def clip_train_step(model, optimizer, images, tokens):
    model.train()
    optimizer.zero_grad(set_to_none=False)
    image_embeddings = F.normalize(model.image_encoder(images), dim=1)
    text_embeddings = F.normalize(model.text_encoder(tokens), dim=1)
    logits = model.logit_scale.exp() * image_embeddings @ text_embeddings.T
    targets = torch.arange(len(images), device=logits.device)
    loss = 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))
    loss.backward()
    optimizer.step()
    model.logit_scale.data.clamp_(max=math.log(100))
    return float(loss.detach())
''', correct=True),
        Answer("cu.clip_loss on the raw encoder outputs (correct too)", edits=(
            ("image_embeddings, text_embeddings = model(images, tokens)",
             "image_embeddings = model.encode_image(images, normalize=False)\n"
             "    text_embeddings = model.encode_text(tokens, normalize=False)"),
            ("loss = clip_loss(", "loss = cu.clip_loss("),), correct=True),
    ],
    "ex6_patchify": [
        Answer("reshape without permute", edits=((".permute(0, 2, 4, 1, 3, 5)", ""),)),
        Answer("each patch flattened as (p, p, C)", edits=((".permute(0, 2, 4, 1, 3, 5)",
                                                            ".permute(0, 2, 4, 3, 5, 1)"),)),
        Answer("patches column by column", edits=((".permute(0, 2, 4, 1, 3, 5)", ".permute(0, 4, 2, 1, 3, 5)"),)),
        Answer("no check that p divides the size", edits=(("if h % p or w % p:", "if False:"),)),
        Answer("F.unfold (correct too)", edits=(
            ("    patches = images.reshape(n, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)\n"
             "    return patches.reshape(n, (h // p) * (w // p), c * p * p)",
             "    return F.unfold(images.double(), kernel_size=p, stride=p).transpose(1, 2).to(images.dtype)"),),
               correct=True),
    ],
}
