"""A seccomp filter for sandboxed processes: no new namespaces, no mounts.

An unprivileged process may still create a user namespace of its own, in
which it is root: it could then mount file systems and reach kernel code
that only root reaches, which is where kernel exploits live. bubblewrap can
forbid that only for sandboxes it runs with their own user namespace, and
ours run as a real unprivileged uid instead (``sandbox``). So bwrap is given
this classic-BPF program (``--seccomp FD``), which makes these system calls
fail with EPERM: unshare, setns, clone with any namespace flag, the mount
family, keyrings, bpf, perf_event_open and userfaultfd. clone3 fails with
ENOSYS, so the C library falls back to clone, whose flags the filter can
read. Nothing a notebook does needs any of them.

The program is assembled here, a few dozen instructions, so that no library
is needed: see seccomp(2) and linux/filter.h for the encoding.
"""

import platform
import struct

# struct seccomp_data: the system call number, the architecture, then args.
_NR, _ARCH, _ARG0 = 0, 4, 16
_LOAD, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
EPERM, ENOSYS = 1, 38
_NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
_X32_BIT = 0x40000000  # x86-64's x32 system calls, refused whole

# (audit architecture, {name: number}) per machine.
ARCHITECTURES = {
    "x86_64": (0xC000003E, {
        "unshare": 272, "setns": 308, "clone": 56, "clone3": 435, "mount": 165,
        "umount2": 166, "pivot_root": 155, "chroot": 161, "keyctl": 250, "add_key": 248,
        "request_key": 249, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
        "fsmount": 432, "fspick": 433, "mount_setattr": 442}),
    "aarch64": (0xC00000B7, {
        "unshare": 97, "setns": 268, "clone": 220, "clone3": 435, "mount": 40,
        "umount2": 39, "pivot_root": 41, "chroot": 51, "keyctl": 219, "add_key": 217,
        "request_key": 218, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
        "fsmount": 432, "fspick": 433, "mount_setattr": 442}),
}


def supported():
    """Whether this machine's architecture has a filter."""
    return platform.machine() in ARCHITECTURES


def program(machine=None):
    """The filter, as the bytes bwrap --seccomp reads (struct sock_filter[])."""
    architecture, numbers = ARCHITECTURES[machine or platform.machine()]
    refused = [number for name, number in numbers.items() if name not in ("clone", "clone3")]
    # Each instruction: (code, jump if true, jump if false, constant). Jumps are
    # label names here, resolved to forward offsets below.
    code = [(_LOAD, None, None, _ARCH), (_JEQ, None, "deny", architecture),
            (_LOAD, None, None, _NR)]
    if architecture == ARCHITECTURES["x86_64"][0]:
        code.append((_JGE, "deny", None, _X32_BIT))
    code += [(_JEQ, "deny", None, number) for number in refused]
    code += [(_JEQ, "clone", None, numbers["clone"]),
             (_JEQ, "nosys", None, numbers["clone3"]),
             (_RET, None, None, _ALLOW),
             ("clone", _LOAD, None, None, _ARG0), (_JSET, "deny", None, _NAMESPACE_FLAGS),
             (_RET, None, None, _ALLOW),
             ("nosys", _RET, None, None, _ERRNO | ENOSYS),
             ("deny", _RET, None, None, _ERRNO | EPERM)]
    labels, instructions = {}, []
    for item in code:
        if isinstance(item[0], str):
            labels[item[0]] = len(instructions)
            item = item[1:]
        instructions.append(item)
    encoded = b""
    for index, (operation, if_true, if_false, constant) in enumerate(instructions):
        offsets = [labels[label] - index - 1 if label else 0 for label in (if_true, if_false)]
        encoded += struct.pack("=HBBI", operation, *offsets, constant)
    return encoded
