"""Which of your classes an ImageNet network already knows: the overlap of a class list with ImageNet-1K.

A network pretrained on ImageNet-1K has an output unit for each of its 1,000 classes. If a class of
your task is one of them (the Oxford-IIIT Pet breed "Pug" is ImageNet's "pug"), the pretrained
features already separate it from the others, and a new head on the frozen backbone gets a head
start that says little about how transfer learning does on classes the network has never been
taught. Before comparing fine-tuning strategies, check the overlap.

Names rarely match letter for letter ("Leonberger" is ImageNet's "Leonberg", "Japanese Chin" its
"Japanese spaniel"), so the Pet breeds are matched by a table checked by hand against the synonyms of
the ImageNet classes' WordNet synsets (which torchvision's short names omit); any other name is
matched exactly, ignoring case.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._validate import describe

__all__ = ["PET_BREEDS_IN_IMAGENET", "imagenet_overlap"]

#: The 25 Oxford-IIIT Pet breeds that are ImageNet-1K classes, with the class's name as torchvision spells it.
#: The other 12 (Abyssinian, American Bulldog, Bengal, Birman, Bombay, British Shorthair, Havanese, Maine Coon,
#: Ragdoll, Russian Blue, Shiba Inu, Sphynx) are not: ImageNet has no unit for them.
PET_BREEDS_IN_IMAGENET: dict[str, str] = {
    "American Pit Bull Terrier": "American Staffordshire terrier",  # synset: "... American pit bull terrier ..."
    "Basset Hound": "basset",
    "Beagle": "beagle",
    "Boxer": "boxer",
    "Chihuahua": "Chihuahua",
    "Egyptian Mau": "Egyptian cat",
    "English Cocker Spaniel": "cocker spaniel",  # synset: "cocker spaniel, English cocker spaniel, cocker"
    "English Setter": "English setter",
    "German Shorthaired": "German short-haired pointer",
    "Great Pyrenees": "Great Pyrenees",
    "Japanese Chin": "Japanese spaniel",
    "Keeshond": "keeshond",
    "Leonberger": "Leonberg",
    "Miniature Pinscher": "miniature pinscher",
    "Newfoundland": "Newfoundland",
    "Persian": "Persian cat",
    "Pomeranian": "Pomeranian",
    "Pug": "pug",
    "Saint Bernard": "Saint Bernard",
    "Samoyed": "Samoyed",
    "Scottish Terrier": "Scotch terrier",
    "Siamese": "Siamese cat",
    "Staffordshire Bull Terrier": "Staffordshire bullterrier",
    "Wheaten Terrier": "soft-coated wheaten terrier",
    "Yorkshire Terrier": "Yorkshire terrier",
}


def imagenet_overlap(class_names: Sequence[str]) -> dict[str, str | None]:
    """For each class name, the ImageNet-1K class it is (``None`` if it is none of the 1,000).

    Oxford-IIIT Pet breeds are looked up in ``PET_BREEDS_IN_IMAGENET``; any other name must equal
    an ImageNet class name (torchvision's spelling, ``imagenet_categories()``). Both ignore case and
    read "_" as a space, so the dataset's file-name spelling ("british_shorthair") is found too.
    Why: a class the pretrained network was trained on flatters head-only training (Lesson 04, §6).

    Taught in lesson 04.
    """
    if isinstance(class_names, (str, bytes)) or not isinstance(class_names, Sequence):
        raise TypeError(f"class_names: expected a list of class names such as ['Pug', 'Bengal'], "
                        f"got {describe(class_names)}")
    if not class_names or not all(isinstance(name, str) and name for name in class_names):
        raise ValueError(f"class_names: expected at least one non-empty class name, got {list(class_names)!r:.200}")
    from .pretrained import imagenet_categories  # imported here: it needs torchvision

    def key(name: str) -> str:  # "british_shorthair", "British Shorthair" and "BRITISH SHORTHAIR" are one name
        return " ".join(name.replace("_", " ").split()).casefold()

    pets = {key(breed): category for breed, category in PET_BREEDS_IN_IMAGENET.items()}
    by_key = {key(category): category for category in imagenet_categories()}
    return {name: pets.get(key(name), by_key.get(key(name))) for name in class_names}
