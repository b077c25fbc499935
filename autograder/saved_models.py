"""Read a model the student's kernel sent, without running any of it.

The text is the student's to choose, so it passes our own schema first
(``export_schema``: allowed layers and arguments, sizes, parameter counts)
and only then goes to Keras, in safe mode, which refuses to deserialise
Python code (Lambda layers, custom classes).
"""

import os
import stat

import keras

from autograder import export_schema


def read_model(path):
    """Rebuilds the model saved at `path`.

    Raises:
        export_schema.ExportRejected: the file is not a regular file, or its
            text breaks the schema; the message says what was refused.
        Exception: whatever Keras raises for an architecture it cannot build.
    """
    return keras.saving.deserialize_keras_object(
        export_schema.check_model_json(read_text(path)), safe_mode=True)


def read_text(path, max_bytes=export_schema.MAX_BYTES):
    """The text of a regular file of at most `max_bytes`, opened without following links."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise export_schema.ExportRejected("the export is not a regular file")
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise export_schema.ExportRejected(
            f"the export is larger than {max_bytes:,} bytes")
    return data.decode("utf-8", errors="replace")
