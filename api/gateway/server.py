"""The gateway process(es): the policy server and the socketmap server on one event loop each.

With `workers` > 1 the parent reserves both ports, forks that many worker processes and
supervises them. Each worker opens its own Directory (its own store connection, snapshot,
lookup thread(s) and answer cache) and listens on both ports with SO_REUSEPORT, so the kernel
spreads Postfix's connections over the workers and each uses its own core. The workers share
nothing but the store. The parent answers no requests: it announces the ports once every worker
listens and passes SIGTERM/SIGINT on. A worker that dies (killed for memory, a crash) is logged
and started again after a delay that grows while workers keep dying (0.5 s up to 30 s); the
others keep serving meanwhile, so one bad connection never takes the gateway down.

At start the soft limit on open files is raised to the hard limit: each connection is a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import math
import multiprocessing
import os
import resource
import signal
import socket
import time
from collections.abc import Callable, Coroutine
from multiprocessing.connection import Connection, wait
from typing import Any

from api.gateway.connection import Connections
from api.gateway.policy import PolicyProtocol
from api.gateway.resolver import Resolver
from api.gateway.rules import GatewayRules, load_gateway_rules
from api.gateway.socketmap import SocketmapProtocol
from api.runtime import tuned_gc
from directory.errors import DirectoryError, ErrorKind
from directory.service import Directory

WORKER_START_SECONDS = 60.0
log = logging.getLogger("clearance.gateway")


def gateway_rules(directory: Directory, **overrides: object) -> GatewayRules:
    path = directory.settings.config_dir / "gateway.toml"
    return load_gateway_rules(path, directory.policy.scheme, **overrides)


class Gateway:
    def __init__(
        self,
        directory: Directory,
        rules: GatewayRules,
        *,
        lookup_threads: int = 1,
        reuse_port: bool = False,
    ) -> None:
        self.directory = directory
        self.rules = rules
        self.reuse_port = reuse_port
        self.resolver = Resolver(directory, rules, workers=lookup_threads)
        self._servers: list[asyncio.Server] = []
        self.connections = Connections(rules.limits)
        self._sweeper: asyncio.Task[None] | None = None
        self.policy_port = 0
        self.socketmap_port = 0

    async def start(self, host: str, policy_port: int, socketmap_port: int) -> None:
        """Listen (port 0: any free port; the chosen ports are then in the attributes)."""
        if policy_port and policy_port == socketmap_port:  # SO_REUSEPORT would allow both
            raise DirectoryError(ErrorKind.CONFIG, "the policy and socketmap ports must differ")
        await self.resolver.start()
        loop = asyncio.get_running_loop()
        policy = await loop.create_server(
            lambda: PolicyProtocol(self.resolver, self.rules, self.connections),
            host,
            policy_port,
            backlog=512,
            reuse_port=self.reuse_port or None,
        )
        socketmap = await loop.create_server(
            lambda: SocketmapProtocol(self.resolver, self.rules, self.connections),
            host,
            socketmap_port,
            backlog=512,
            reuse_port=self.reuse_port or None,
        )
        self._servers = [policy, socketmap]
        self._sweeper = asyncio.create_task(self.connections.sweep_forever())
        self.policy_port = policy.sockets[0].getsockname()[1]
        self.socketmap_port = socketmap.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        self.connections.close_all()
        for server in self._servers:
            await server.wait_closed()
        self._servers = []
        await self.resolver.stop()


async def serve_forever(
    gateway: Gateway, host: str, policy_port: int, socketmap_port: int, ready: object = None
) -> None:
    await gateway.start(host, policy_port, socketmap_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if callable(ready):
        ready(gateway)
    try:
        await stop.wait()
    finally:
        await gateway.stop()


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    with tuned_gc():  # api/runtime.py: full collections do not stall answers
        try:
            import uvloop
        except ImportError:  # uvloop ships with uvicorn[standard]; plain asyncio works too
            asyncio.run(main)
        else:
            uvloop.run(main)


def raise_open_files_limit() -> int:
    """Raise the soft limit on open files to the hard one (each connection is a file); the
    limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return soft


def run(gateway: Gateway, host: str, policy_port: int, socketmap_port: int) -> None:
    """Block serving in this process until SIGTERM or SIGINT (uvloop when installed)."""
    raise_open_files_limit()

    def ready(gw: Gateway) -> None:
        _announce(gw.rules, gw.policy_port, gw.socketmap_port, 1)

    _run_loop(serve_forever(gateway, host, policy_port, socketmap_port, ready=ready))


def _announce(rules: GatewayRules, policy_port: int, socketmap_port: int, workers: int) -> None:
    print(
        f"Clearance gateway: policy service on port {policy_port}, "
        f"socketmap (tlspolicy, recipient) on port {socketmap_port}, "
        f"mode {rules.mode.value}, {workers} worker process{'es' if workers > 1 else ''}",
        flush=True,
    )


# --- several worker processes ---------------------------------------------------------------
OpenDirectory = Callable[..., Directory]  # open_directory(*, serving=False)


def _reserve(host: str, port: int) -> socket.socket:
    """Bind (not listen) with SO_REUSEPORT: holds the port, receives no connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _die_with_parent() -> None:
    """SIGTERM this worker when the parent dies, even by SIGKILL (Linux), so no orphan keeps
    serving the ports outside the service manager's sight."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _worker(
    open_directory: OpenDirectory,
    overrides: dict[str, Any],
    lookup_threads: int,
    host: str,
    ports: tuple[int, int],
    ready: Connection,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent passes a SIGTERM on
    _die_with_parent()
    directory = open_directory(serving=True)
    try:
        gateway = Gateway(
            directory,
            gateway_rules(directory, **overrides),
            lookup_threads=lookup_threads,
            reuse_port=True,
        )

        def listening(_gateway: Gateway) -> None:
            with contextlib.suppress(OSError):  # a restarted worker's parent does not wait
                ready.send(os.getpid())
            ready.close()

        _run_loop(serve_forever(gateway, host, *ports, ready=listening))
    finally:
        directory.close()


def run_workers(
    open_directory: OpenDirectory,
    overrides: dict[str, Any],
    *,
    workers: int,
    lookup_threads: int,
    host: str,
    policy_port: int,
    socketmap_port: int,
) -> int:
    """Serve with `workers` processes until SIGTERM/SIGINT; the exit status (0: stopped)."""
    if policy_port and policy_port == socketmap_port:
        raise DirectoryError(ErrorKind.CONFIG, "the policy and socketmap ports must differ")
    raise_open_files_limit()  # inherited by the workers
    # Checked here first, so a bad configuration is refused before anything forks.
    directory = open_directory()
    try:
        rules = gateway_rules(directory, **overrides)
    finally:
        directory.close()
    reserved = [_reserve(host, policy_port), _reserve(host, socketmap_port)]
    ports = (reserved[0].getsockname()[1], reserved[1].getsockname()[1])
    context = multiprocessing.get_context("fork")
    processes: list[Any] = []  # multiprocessing's Process of the fork context
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    status = 0

    def start(n: int) -> Connection:
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=_worker,
            args=(open_directory, overrides, lookup_threads, host, ports, send),
            name=f"clearance-gateway-{n}",
        )
        process.start()
        send.close()
        if n < len(processes):
            processes[n] = process
        else:
            processes.append(process)
        return receive

    try:
        pipes = [start(n) for n in range(workers)]
        for receive in pipes:
            with receive:
                if not receive.poll(WORKER_START_SECONDS):
                    raise RuntimeError("a gateway worker did not start listening")
                receive.recv()
        if not stopping:
            _announce(rules, *ports, workers)
        status = _supervise(processes, lambda: stopping, lambda n: start(n).close())
    except (RuntimeError, EOFError):  # a worker failed to start (its error is on stderr)
        status = 0 if stopping else 1
    finally:
        stop(0, None)
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
                process.join()
        for sock in reserved:
            sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # seconds; back to the first after a calm hour
CALM_SECONDS = 3600.0


def _supervise(
    processes: list[multiprocessing.process.BaseProcess],
    stopping: Callable[[], bool],
    restart: Callable[[int], None],
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Wait until asked to stop (0). A worker that exits on its own is logged and started again
    after a delay that grows while workers keep dying; the others keep serving meanwhile."""
    failures = 0
    last_failure = -math.inf
    due: dict[int, float] = {}  # worker index -> when to start it again
    while not stopping():
        sentinels = [p.sentinel for n, p in enumerate(processes) if n not in due]
        wait(sentinels, timeout=min([1.0, *(max(0.0, t - clock()) for t in due.values())]))
        if stopping():
            break
        now = clock()
        for n, process in enumerate(processes):
            if n in due or process.exitcode is None:
                continue
            if now - last_failure > CALM_SECONDS:
                failures = 0
            delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]
            failures, last_failure = failures + 1, now
            due[n] = now + delay
            log.error(
                "gateway worker %d (pid %s) exited with status %s; starting it again in %.1f s",
                n, process.pid, process.exitcode, delay,
            )  # fmt: skip
        for n, when in list(due.items()):
            if now >= when and not stopping():
                del due[n]
                restart(n)
    return 0
