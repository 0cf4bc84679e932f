"""nbgrader preprocessors of the course (configured in nbgrader_config.py).

Feedback goes to students, so it must not hand them the hidden tests (nbgrader issue 917):
``GenerateFeedback`` runs nbgrader's own ``ClearHiddenTests`` (which removes the code between
``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``), and before it ``HideHiddenTestTracebacks``,
because the traceback of a failed hidden test prints the failing hidden lines too. The student
keeps the error's type and message, which the course writes to be read by students.
"""

from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor

from tools.course import HIDDEN_TEST_MARKERS, source_text


class HideHiddenTestTracebacks(NbGraderPreprocessor):
    """In cells with hidden tests, replace each error's traceback by its one-line message."""

    def preprocess_cell(self, cell, resources, index):  # noqa: ANN001, ANN201 - nbconvert's signature
        if cell.cell_type == "code" and HIDDEN_TEST_MARKERS[0] in source_text(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources
