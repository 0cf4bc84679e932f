"""Tests of course_utils.class_overlap: which Pet breeds (or other class names) ImageNet-1K already has."""

from __future__ import annotations

import pytest

from course_utils.class_overlap import PET_BREEDS_IN_IMAGENET, imagenet_overlap
from course_utils.image_folders import PET_BREEDS
from course_utils.pretrained import imagenet_categories

NOT_IN_IMAGENET = ("Abyssinian", "American Bulldog", "Bengal", "Birman", "Bombay", "British Shorthair", "Havanese",
                   "Maine Coon", "Ragdoll", "Russian Blue", "Shiba Inu", "Sphynx")


def test_the_table_maps_pet_breeds_to_real_imagenet_class_names() -> None:
    categories = imagenet_categories()
    assert set(PET_BREEDS_IN_IMAGENET) <= set(PET_BREEDS)
    assert len(PET_BREEDS_IN_IMAGENET) == 25
    assert [name for name in PET_BREEDS_IN_IMAGENET.values() if name not in categories] == []
    assert len(set(PET_BREEDS_IN_IMAGENET.values())) == 25  # no two breeds share one ImageNet class
    assert sorted(set(PET_BREEDS) - set(PET_BREEDS_IN_IMAGENET)) == list(NOT_IN_IMAGENET)


def test_every_pet_breed_gets_its_class_or_none() -> None:
    overlap = imagenet_overlap(PET_BREEDS)
    assert list(overlap) == list(PET_BREEDS)
    assert {breed for breed, match in overlap.items() if match is None} == set(NOT_IN_IMAGENET)
    assert overlap["Leonberger"] == "Leonberg" and overlap["Japanese Chin"] == "Japanese spaniel"
    assert overlap["Siamese"] == "Siamese cat" and overlap["Russian Blue"] is None


def test_the_old_lesson_subset_had_four_imagenet_classes() -> None:
    overlap = imagenet_overlap(("British Shorthair", "Russian Blue", "Siamese", "Beagle", "Pug", "Samoyed"))
    assert [breed for breed, match in overlap.items() if match] == ["Siamese", "Beagle", "Pug", "Samoyed"]


def test_other_names_match_exactly_ignoring_case() -> None:
    assert imagenet_overlap(["tabby", "TIGER CAT", "espresso", "astronaut", "china"]) == {
        "tabby": "tabby", "TIGER CAT": "tiger cat", "espresso": "espresso", "astronaut": None, "china": None}
    assert imagenet_overlap(("cat",)) == {"cat": None}  # a part of a name is not a match


def test_bad_input_names_the_argument() -> None:
    with pytest.raises(TypeError, match=r"^class_names: expected a list of class names"):
        imagenet_overlap("Pug")
    with pytest.raises(TypeError, match=r"^class_names: expected a list of class names"):
        imagenet_overlap(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^class_names: expected at least one non-empty class name"):
        imagenet_overlap([])
    with pytest.raises(ValueError, match=r"^class_names: expected at least one non-empty class name"):
        imagenet_overlap(["Pug", 3])  # type: ignore[list-item]


def test_case_and_file_name_spellings_are_the_same_breed() -> None:
    from course_utils.class_overlap import imagenet_overlap

    assert imagenet_overlap(["siamese", "SAMOYED", "great_pyrenees", "english_cocker_spaniel"]) == {
        "siamese": "Siamese cat", "SAMOYED": "Samoyed", "great_pyrenees": "Great Pyrenees",
        "english_cocker_spaniel": "cocker spaniel"}
    assert imagenet_overlap(["british_shorthair", "golden_retriever"]) == {
        "british_shorthair": None, "golden_retriever": "golden retriever"}
