"""Tests of course_utils.standins: one refusal and one banner for every stand-in."""

from __future__ import annotations

import urllib.error

import pytest

from course_utils import standins

RULE = "=" * 78


def test_the_banner_says_what_instead_of_what_why_and_what_it_means() -> None:
    banner = standins.standin_banner(
        "weights", used="a RANDOMLY INITIALISED 'resnet18'", instead_of="the pretrained ResNet18_Weights weights",
        why="the download failed (URLError: offline)", meaning="accuracies are NOT those of transfer learning")
    assert banner.splitlines() == [
        RULE,
        "STAND-IN WEIGHTS: a RANDOMLY INITIALISED 'resnet18', NOT the pretrained ResNet18_Weights weights.",
        "Why: the download failed (URLError: offline).",
        "Because COURSE_ALLOW_STANDINS is set, this run continues with it: accuracies are NOT those of transfer "
        "learning.",
        RULE,
    ]


@pytest.mark.parametrize(("kind", "heading"), [("data", "STAND-IN DATA"), ("weights", "STAND-IN WEIGHTS"),
                                               ("substitute", "OFFLINE SUBSTITUTE")])
def test_each_kind_has_its_heading_and_announce_prints_the_banner(
    kind: str, heading: str, capsys: pytest.CaptureFixture[str]
) -> None:
    standins.announce_standin(kind, used="u", instead_of="r", why="w", meaning="m")  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert out == standins.standin_banner(kind, used="u", instead_of="r", why="w", meaning="m") + "\n"  # type: ignore[arg-type]
    assert out.splitlines()[1] == f"{heading}: u, NOT r."


def test_bad_banner_arguments_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"kind: expected one of \['data', 'substitute', 'weights'\], got 'model'"):
        standins.standin_banner("model", used="u", instead_of="r", why="w", meaning="m")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="why: expected a non-empty sentence, got ''"):
        standins.standin_banner("data", used="u", instead_of="r", why="", meaning="m")
    with pytest.raises(ValueError, match="meaning: expected a non-empty sentence, got None"):
        standins.standin_banner("data", used="u", instead_of="r", why="w", meaning=None)  # type: ignore[arg-type]


def test_download_failure_names_the_error_and_cuts_long_messages() -> None:
    error = urllib.error.URLError("x" * 500)
    text = standins.download_failure(error, limit=20)
    assert text == "the download failed (URLError: <urlopen error " + "x" * 5 + ")"


def test_require_standins_allowed_raises_with_both_ways_forward(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COURSE_ALLOW_STANDINS", raising=False)
    cause = OSError("no route to host")
    with pytest.raises(RuntimeError) as caught:
        standins.require_standins_allowed("CIFAR-10 could not be downloaded into /data", cause, "a synthetic stand-in")
    message = str(caught.value)
    assert message.startswith("CIFAR-10 could not be downloaded into /data (OSError: no route to host). ")
    assert "internet connection" in message and "COURSE_ALLOW_STANDINS=1" in message
    assert message.endswith("to continue with a synthetic stand-in.")
    assert caught.value.__cause__ is cause
    monkeypatch.setenv("COURSE_ALLOW_STANDINS", "1")
    assert standins.require_standins_allowed("x", cause, "y") is None
