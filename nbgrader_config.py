# nbgrader reads the file of this name in the folder it runs from; the
# course's configuration lives in autograder/ with the rest of the grader.
load_subconfig("autograder/nbgrader_config.py")  # noqa: F821
