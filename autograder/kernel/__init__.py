"""The grader code that runs inside the student's sandbox, and nothing else.

The sandbox binds this folder, and only this folder of the grader, into the
student's kernel. So it holds no reference, no checks and no verdicts, and
it imports only the standard library, Keras, NumPy, IPython's display (the
channel out of the kernel) and itself; ``tests/test_kernel_package.py``
reads its imports and fails on any other.
"""
