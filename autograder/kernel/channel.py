"""The facts both sides of the kernel boundary agree on, and nothing else.

The exporter (in the kernel) sends with them; the grader's executor and
verifier (outside) read with them. Importing this costs nothing: no Keras.
"""

# Set by the sandbox, to "display": send the exports as display messages.
CHANNEL_VARIABLE = "GRADING_CHANNEL"
EXPORT_MIME = "application/vnd.residual-networks.export+json"
MANIFEST = "export.json"
MODEL_SUFFIX = ".model.json"  # a model the student's function built
PARTIAL_SUFFIX = ".partial.json"  # what a block built before it raised
