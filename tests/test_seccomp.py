"""The seccomp filter is a well-formed BPF program for each machine it knows."""

import struct

import pytest

from autograder import seccomp


@pytest.mark.parametrize("machine", sorted(seccomp.ARCHITECTURES))
def test_program_is_well_formed(machine):
    """Is the program whole instructions, checking the architecture first, with
    every jump landing inside it and every path ending in a return?"""
    code = seccomp.program(machine)
    assert len(code) % 8 == 0
    instructions = [struct.unpack("=HBBI", code[i:i + 8]) for i in range(0, len(code), 8)]
    assert instructions[0] == (0x20, 0, 0, 4)  # load the architecture
    assert instructions[1][3] == seccomp.ARCHITECTURES[machine][0]
    for index, (operation, if_true, if_false, _) in enumerate(instructions):
        if operation != 0x06:  # a return ends its path; anything else goes on
            assert index + 1 + max(if_true, if_false) < len(instructions)
    assert instructions[-1][0] == 0x06


@pytest.mark.parametrize("machine", sorted(seccomp.ARCHITECTURES))
def test_every_refused_call_is_in_the_program(machine):
    """Is every system call of the list compared against, unshare and mount above all?"""
    code = seccomp.program(machine)
    constants = {struct.unpack("=HBBI", code[i:i + 8])[3] for i in range(0, len(code), 8)}
    for name, number in seccomp.ARCHITECTURES[machine][1].items():
        assert number in constants, name
