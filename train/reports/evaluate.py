"""`fakeface evaluate`: accuracy, balanced accuracy, ROC AUC and per-source accuracy of a model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..data.layout import people_of_crops
from .metrics import ClassificationReport, classification_report
from .scoring import ScoredFaces, score_folder


@dataclass
class EvaluateOptions:
    cropped: bool = False
    split: str = "test"
    threshold: Optional[float] = None  # None: the model's own (calibrated) threshold
    detector: str = "edge"
    backend: str = "auto"
    batch_size: int = 64
    progress: bool = True


@dataclass
class EvaluationReport:
    model: str
    data: str
    split: str
    threshold_source: str  # "model metadata" or "--threshold"
    report: ClassificationReport
    no_face: list = field(default_factory=list)
    unreadable: list = field(default_factory=list)
    faces: Optional[ScoredFaces] = field(default=None, repr=False)  # per-face scores, for --compare

    def to_json(self) -> dict:
        return {"model": self.model, "data": self.data, "split": self.split,
                "threshold_source": self.threshold_source, **self.report.to_json(),
                "no_face": len(self.no_face), "unreadable": len(self.unreadable),
                "no_face_files": self.no_face, "unreadable_files": [list(u) for u in self.unreadable]}

    def to_markdown(self) -> str:
        head = (f"{self.model} on {self.data} (split {self.split}; threshold {self.report.threshold:.4g} "
                f"from {self.threshold_source}; {len(self.no_face)} without a face, "
                f"{len(self.unreadable)} unreadable)\n\n")
        return head + self.report.markdown_table()


def evaluate_model(model_path, data_dir, opts: EvaluateOptions) -> EvaluationReport:
    contract, scored = score_folder(model_path, data_dir, opts.split, opts.cropped, opts.detector,
                                    opts.backend, opts.batch_size, opts.progress)
    threshold = contract.threshold if opts.threshold is None else opts.threshold
    report = classification_report(scored.labels, scored.scores, threshold, scored.sources,
                                   people_of_crops(scored.paths))
    return EvaluationReport(model=str(model_path), data=str(data_dir), split=opts.split,
                            threshold_source="model metadata" if opts.threshold is None else "--threshold",
                            report=report, no_face=scored.no_face, unreadable=scored.unreadable, faces=scored)
