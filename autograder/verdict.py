"""The verifier's answer for one exercise, as the grader reads it back.

It lives apart from ``verify`` so that the grading process, which only reads
verdicts, never imports TensorFlow: that import alone takes seconds and
hundreds of megabytes, and the grading process only orchestrates.
"""

import dataclasses

EXERCISES = ("identity_block", "convolutional_block", "ResNet50")


@dataclasses.dataclass
class Verdict:
    """Whether an exercise's saved models match the reference, and why not.

    Attributes:
        exercise: one of EXERCISES.
        passed: the models match the reference.
        message: for the student: what matched, or what differs and a hint.
        diagnoses: tags of the known mistakes found (see diagnostics).
        flags: integrity tags: "nothing_saved", "keras_applications".
        fingerprint: why the models look built by keras.applications
            (verify.library_fingerprint), or "": a match is held for review.
    """

    exercise: str
    passed: bool
    message: str
    diagnoses: list = dataclasses.field(default_factory=list)
    flags: list = dataclasses.field(default_factory=list)
    fingerprint: str = ""
