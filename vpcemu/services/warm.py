"""The warm service process (see kernel/warm.py for what it is and how it is found):

    python -m vpcemu.services.warm KEY LOCK_FD

started by kernel/warm.start_server holding the key's lock on LOCK_FD. It daemonises, imports what a
supervisor needs, listens on WARM_ROOT/KEY.sock and, per request, forks a lab supervisor
(services/supervisor.main) on the fds the request carried, in the caller's environment, directory and
umask, and reaps it when it exits. It exits once IDLE_S s pass without a request while no supervisor of
its own lives, when its code changes (likewise), or on SIGTERM.
"""
from __future__ import annotations

import os
import select
import signal
import socket
import sys
import traceback

from ..kernel import warm

CODE_CHECK_S = 10.0


def _import_ahead() -> None:
    from . import supervisor
    supervisor.import_ahead()


def _supervise(request: dict, fds: list[int]) -> None:
    """In the child: become the supervisor the request asked for, then exit with its status."""
    from . import supervisor
    code = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))     # the server's socket, lock and the request's fds
        os.chdir(request["cwd"])
        os.umask(request["umask"])
        os.environ.clear()
        os.environ.update(request["env"])
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        sys.argv = [supervisor.__file__, *request["argv"]]
        code = supervisor.main(request["argv"])
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:       # a closed pipe: nothing more to say
                pass
        os._exit(code)


def _start(request: dict, fds: list[int]) -> int:
    """Fork the supervisor; its pid. It stays our child, reaped the moment it exits (`_reap`)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})     # not reaped before it is counted
    try:
        pid = os.fork()
        if pid == 0:
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            _supervise(request, fds)
        _children.add(pid)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
    return pid


_children: set[int] = set()


def _reap(signum=None, frame=None) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _children.discard(pid)


def serve(key: str, lock_fd: int) -> int:
    warm.record_self(key)               # first: `clean` finds it from now on
    _import_ahead()
    sock_path = warm.path(key, "sock")
    tmp = warm.path(key, f"sock.{os.getpid()}")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(str(tmp))
    os.chmod(tmp, 0o600)
    listener.listen(64)
    os.replace(tmp, sock_path)          # it appears listening; we hold the lock, so no live server owns it
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGCHLD, _reap)
    try:
        idle = 0.0
        # idle: no request, and no supervisor of ours alive (we reap it the moment it exits; init, which
        # would inherit it, may reap late)
        while idle < warm.IDLE_S:
            ready, _, _ = select.select([listener], [], [], CODE_CHECK_S)
            if not ready:
                idle = idle + CODE_CHECK_S if not _children else 0.0
                if warm.code_key() != key and not _children:
                    break               # the code changed: a new key has (or will have) its own server
                continue
            idle = 0.0
            conn, _ = listener.accept()
            with conn:
                _answer(conn)
    finally:
        try:
            if os.stat(sock_path).st_ino == os.fstat(listener.fileno()).st_ino:
                sock_path.unlink()
        except FileNotFoundError:
            pass
        listener.close()
        os.close(lock_fd)
    return 0


def _stop(signum, frame):
    # raised wherever the server is: a request cut short leaves a supervisor that reads EOF and exits
    raise SystemExit(0)


def _answer(conn: socket.socket) -> None:
    fds: list[int] = []
    try:
        uid = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)[4:8]
        request, fds = warm.receive(conn)
        if int.from_bytes(uid, sys.byteorder) != 0 or len(fds) != warm.FDS:
            conn.send(b'{"error": "refused"}')
            return
        sys.stdout.flush()
        sys.stderr.flush()
        conn.send(f'{{"pid": {_start(request, fds)}}}'.encode())
    except Exception:               # one bad request must not end the server
        traceback.print_exc()
    finally:
        for fd in fds:
            os.close(fd)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m vpcemu.services.warm KEY LOCK_FD", file=sys.stderr)
        return 2
    key, lock_fd = argv[0], int(argv[1])
    if os.fork():                       # daemonise: the starter waits only for this first process
        os._exit(0)
    return serve(key, lock_fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
