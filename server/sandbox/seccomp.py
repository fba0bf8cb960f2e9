"""The seccomp filter of the sandboxed child, written as classic BPF (x86_64 only)."""

from __future__ import annotations

import errno
import socket
import struct

from .libc import CLONE_NEW_ANY

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000

RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000

# BPF opcodes: ld word absolute, jeq/jge/jset with constant, return constant.
LD_ABS = 0x20
JEQ = 0x15
JGE = 0x35
JSET = 0x45
RET = 0x06

OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0 = 0, 4, 16

# Syscalls the student never needs and an attacker would: tracing other processes,
# changing mounts or namespaces, exec, kernel attack surface, host-wide settings.
DENIED = {
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "pidfd_getfd": 438,
    "kcmp": 312,
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "chroot": 161,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
    "unshare": 272,
    "setns": 308,
    "execve": 59,
    "execveat": 322,
    "bpf": 321,
    "perf_event_open": 298,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "keyctl": 250,
    "add_key": 248,
    "request_key": 249,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "kexec_load": 246,
    "kexec_file_load": 320,
    "reboot": 169,
    "swapon": 167,
    "swapoff": 168,
    "syslog": 103,
    "acct": 163,
    "settimeofday": 164,
    "clock_settime": 227,
    "clock_adjtime": 305,
    "adjtimex": 159,
    "open_by_handle_at": 304,
    "name_to_handle_at": 303,
    "quotactl": 179,
    "quotactl_fd": 443,
    "personality": 135,
    "mknod": 133,
    "mknodat": 259,
    "iopl": 172,
    "ioperm": 173,
    "vhangup": 153,
    "lookup_dcookie": 212,
    "fanotify_init": 300,
    "sethostname": 170,
    "setdomainname": 171,
}
SOCKET, SOCKETPAIR, CLONE, CLONE3 = 41, 53, 56, 435
FORK, VFORK = 57, 58
NEW_NAMESPACE_FLAGS = CLONE_NEW_ANY
CLONE_THREAD = 0x00010000


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def _deny(nr: int, err: int) -> bytes:
    """Return err for syscall nr; otherwise fall through with the number still loaded."""
    return _op(JEQ, nr, 0, 1) + _op(RET, RET_ERRNO | err)


def _unix_only(nr: int) -> bytes:
    """Allow socket/socketpair for AF_UNIX only; others fail with EAFNOSUPPORT."""
    return (
        _op(JEQ, nr, 0, 4)
        + _op(LD_ABS, OFFSET_ARG0)
        + _op(JEQ, socket.AF_UNIX, 0, 1)
        + _op(RET, RET_ALLOW)
        + _op(RET, RET_ERRNO | errno.EAFNOSUPPORT)
    )


def _clone_without_namespaces(threads_only: bool) -> bytes:
    """Allow clone (fork, threads) but not with flags that create namespaces.

    threads_only: a new process (no CLONE_THREAD) fails with EAGAIN, as at a pids limit.
    """
    if not threads_only:
        return (
            _op(JEQ, CLONE, 0, 4)
            + _op(LD_ABS, OFFSET_ARG0)
            + _op(JSET, NEW_NAMESPACE_FLAGS, 0, 1)
            + _op(RET, RET_ERRNO | errno.EPERM)
            + _op(RET, RET_ALLOW)
        )
    return (
        _op(JEQ, CLONE, 0, 6)
        + _op(LD_ABS, OFFSET_ARG0)
        + _op(JSET, NEW_NAMESPACE_FLAGS, 0, 1)
        + _op(RET, RET_ERRNO | errno.EPERM)
        + _op(JSET, CLONE_THREAD, 0, 1)
        + _op(RET, RET_ALLOW)
        + _op(RET, RET_ERRNO | errno.EAGAIN)
    )


def build_filter(no_processes: bool = False) -> bytes:
    """Assemble the whole filter program.

    no_processes: refuse fork, vfork and clone without CLONE_THREAD (threads still
    work); the stand-in for a pids cgroup where none is delegated.
    """
    program = [
        _op(LD_ABS, OFFSET_ARCH),
        _op(JEQ, AUDIT_ARCH_X86_64, 1, 0),
        _op(RET, RET_KILL_PROCESS),
        _op(LD_ABS, OFFSET_NR),
        _op(JGE, X32_SYSCALL_BIT, 0, 1),  # the x32 ABI would bypass every number below
        _op(RET, RET_KILL_PROCESS),
    ]
    program += [_deny(nr, errno.EPERM) for nr in sorted(DENIED.values())]
    # clone3 passes its flags in memory BPF cannot read: ENOSYS makes libc fall back to clone.
    program.append(_deny(CLONE3, errno.ENOSYS))
    if no_processes:
        program += [_deny(FORK, errno.EAGAIN), _deny(VFORK, errno.EAGAIN)]
    program += [
        _unix_only(SOCKET),
        _unix_only(SOCKETPAIR),
        _clone_without_namespaces(no_processes),
    ]
    program.append(_op(RET, RET_ALLOW))
    return b"".join(program)
