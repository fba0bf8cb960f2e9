"""Thin ctypes wrappers over the Linux calls the sandbox needs and Python 3.11 lacks."""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import platform

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]

X86_64 = platform.machine() == "x86_64"

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEW_ANY = (
    CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET
)

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_MODE_FILTER = 2

SYS_PIVOT_ROOT = 155
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET = 1
LANDLOCK_SCOPE_ABI = 6  # the first ABI with scopes (Linux 6.12)
SYS_CAPSET = 126
LAST_CAP = 63


def _check(ret: int, what: str) -> int:
    """Raise OSError naming the call when a libc call failed."""
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def _path(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def unshare(flags: int) -> None:
    """Move the calling process into new namespaces."""
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int) -> None:
    """Move the calling process into the namespace fd refers to (for PID: its children)."""
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    """Mount, bind or remount, as mount(2)."""
    _check(
        _libc.mount(_path(source), _path(target), _path(fstype), flags, _path(data)),
        f"mount {target}",
    )


def umount2(target: str, flags: int) -> None:
    """Unmount, as umount2(2)."""
    _check(_libc.umount2(_path(target), ctypes.c_int(flags)), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    """Make new_root the root of this mount namespace."""
    _check(_libc.syscall(SYS_PIVOT_ROOT, _path(new_root), _path(put_old)), "pivot_root")


def prctl(option: int, arg2: int = 0, arg3: int = 0) -> int:
    """Call prctl(2) with up to two arguments."""
    return _check(_libc.prctl(option, arg2, arg3, 0, 0), f"prctl {option}")


@functools.lru_cache(maxsize=1)
def last_capability() -> int:
    """Return the kernel's highest capability number (read once, in the zygote)."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as file:
            return int(file.read())
    except (OSError, ValueError):
        return LAST_CAP


def drop_capabilities() -> None:
    """Empty the bounding, ambient, effective, permitted and inheritable capability sets."""
    for cap in range(last_capability() + 1):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0:
            if ctypes.get_errno() == errno.EINVAL:  # past the kernel's last capability
                break
            _check(-1, "drop bounding capability")
    clear_capabilities()


def clear_capabilities() -> None:
    """Empty the ambient, effective, permitted and inheritable sets (needs no privilege)."""
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.syscall(SYS_CAPSET, header, data), "capset")


class SockFprog(ctypes.Structure):
    """struct sock_fprog: a classic BPF program's length and address."""

    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


@functools.lru_cache(maxsize=4)
def seccomp_program(program: bytes) -> tuple[ctypes.Array, SockFprog]:
    """Build the C structures of a filter once (in the zygote: each child only installs it)."""
    buffer = ctypes.create_string_buffer(program, len(program))
    return buffer, SockFprog(len(program) // 8, ctypes.addressof(buffer))


def set_seccomp(program: bytes) -> None:
    """Install a classic-BPF seccomp filter given as packed sock_filter structs."""
    _, fprog = seccomp_program(program)
    prctl(PR_SET_NO_NEW_PRIVS, 1)  # required, and already set by the sandbox
    _check(
        _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0), "seccomp"
    )


class LandlockRulesetAttr(ctypes.Structure):
    """struct landlock_ruleset_attr (ABI 6): handled filesystem and network access, scopes."""

    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


ABSTRACT_SOCKETS_ONLY = LandlockRulesetAttr(0, 0, LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET)


@functools.lru_cache(maxsize=1)
def landlock_abi() -> int:
    """Return the kernel's Landlock ABI version, or 0 without Landlock (read once)."""
    # 444-446: the same on every architecture (numbers from 424 up are shared).
    version = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION)
    return max(0, version)


def scope_abstract_sockets() -> None:
    """Confine this process to abstract UNIX sockets made inside its own Landlock domain."""
    attr = ABSTRACT_SOCKETS_ONLY
    ruleset = _check(
        _libc.syscall(
            SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)), 0
        ),
        "landlock_create_ruleset",
    )
    try:
        _check(_libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)
