"""Text a student chose, made safe for the places the grader writes it.

File names, student code and error messages reach the instructor's terminal,
the report and grades.csv. A name may hold bytes that are not UTF-8, escape
sequences that repaint a terminal, direction overrides that reorder what a
reader sees, or a leading "=" that a spreadsheet runs as a formula. Every
output goes through one of the two functions here.
"""

import unicodedata

# OWASP's list for CSV injection: a cell starting with one of these is a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def printable(text):
    """`text` with every control, format or undecodable character written as an escape.

    Bytes that are not UTF-8 (kept by Python as surrogates in file names)
    become \\xNN; control characters (escape, newline, NUL...) and format
    characters (direction overrides, zero-width spaces) become \\xNN or
    \\uNNNN. It never raises, whatever the string holds.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    return "".join(_escaped(character) for character in str(text))


def csv_cell(value):
    """A value for a CSV cell that no spreadsheet runs: printable, and a leading
    formula character quoted with an apostrophe, as OWASP recommends. Leading
    spaces and look-alike characters (a fullwidth =) count as leading too."""
    text = value if isinstance(value, str) else str(value)
    if text.startswith(FORMULA_STARTS) or unicodedata.normalize(
            "NFKC", text).lstrip().startswith(FORMULA_STARTS):
        text = "'" + text
    return printable(text)


def _escaped(character):
    code = ord(character)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if unicodedata.category(character) not in {"Cc", "Cf", "Cs", "Zl", "Zp", "Co"}:
        return character
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
