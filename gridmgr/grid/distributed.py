"""The per-street grid tasks on dask.distributed.

:func:`dask_runner` is a :data:`gridmgr.grid.chunked.Runner`: it submits one task per street
(:func:`gridmgr.grid.chunked.run_chunk`) to a dask.distributed cluster, a LocalCluster of
``workers`` processes started here (and closed after), or an existing scheduler by address
(``tcp://host:8786``). Workers write their part straight into the output directory, so on a real
cluster that directory must be on storage every worker sees (docs/scale.md); only the figures
and the cells come back. Results are the serial build's, part for part.

:func:`dask_mapper` runs any per-unit function the same way (``gridmgr coverage --workers``:
the per-unit geometry checks). dask is imported only when a runner runs (the ``scale`` extra).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from gridmgr.errors import InputError
from gridmgr.grid.chunked import Chunk, ChunkResult, Runner, run_chunk
from gridmgr.i18n import t


def _require_dask() -> Any:
    try:
        import distributed
    except ImportError:
        raise InputError(
            t(
                "--workers/--scheduler 需要 dask.distributed：请安装 gridmgr[scale]"
                "（pip install 'gridmgr[scale]'）",
                "--workers/--scheduler need dask.distributed: install gridmgr[scale] "
                "(pip install 'gridmgr[scale]')",
            )
        ) from None
    return distributed


def check_workers(workers: int | None, scheduler: str | None) -> None:
    """Refuse a worker count below 1 and asking for both a local cluster and an address."""
    if workers is not None and workers < 1:
        raise InputError(
            t(
                f"--workers={workers}：工作进程数须至少为 1",
                f"--workers={workers}: must be at least 1",
            )
        )
    if workers is not None and scheduler is not None:
        raise InputError(
            t(
                "--workers 启动本机集群，--scheduler 连接已有集群：二者只能给一个",
                "--workers starts a local cluster, --scheduler joins an existing one: give one",
            )
        )


@contextmanager
def dask_client(
    workers: int | None = None, scheduler: str | None = None, *, processes: bool = True
) -> Iterator[Any]:
    """A dask.distributed client: of a LocalCluster of ``workers`` (default 2) processes
    (threads with ``processes=False``: tests) started and closed here, or of the cluster at
    ``scheduler``."""
    distributed = _require_dask()
    with ExitStack() as stack:
        if scheduler is not None:
            yield stack.enter_context(_connect(distributed, scheduler))
            return
        cluster = stack.enter_context(
            distributed.LocalCluster(
                n_workers=workers or 2,
                threads_per_worker=1,
                processes=processes,
                dashboard_address=None,
                silence_logs=40,
            )
        )
        yield stack.enter_context(distributed.Client(cluster))


def dask_runner(
    workers: int | None = None, scheduler: str | None = None, *, processes: bool = True
) -> Runner:
    """A runner on a LocalCluster of ``workers`` (default 2) or the cluster at ``scheduler``.

    ``processes=False`` runs the LocalCluster's workers as threads of this process (tests).
    """
    check_workers(workers, scheduler)

    def run(chunks: list[Chunk], res: int, directory: str) -> Iterator[ChunkResult]:
        distributed = _require_dask()
        with dask_client(workers, scheduler, processes=processes) as client:
            futures = [client.submit(run_chunk, c, res, directory, pure=False) for c in chunks]
            for fut in distributed.as_completed(futures):
                yield fut.result()
                fut.release()

    return run


#: Maps a function over argument tuples, results in order: ``mapper(fn, [args, …])``.
Mapper = Callable[[Callable[..., Any], Iterable[tuple[Any, ...]]], list[Any]]


def serial_map(fn: Callable[..., Any], args: Iterable[tuple[Any, ...]]) -> list[Any]:
    """The serial :data:`Mapper`: ``[fn(*a) for a in args]`` (``args`` may be a generator:
    one call's arguments in memory at a time)."""
    return [fn(*a) for a in args]


def dask_mapper(
    workers: int | None = None, scheduler: str | None = None, *, processes: bool = True
) -> Mapper:
    """A :data:`Mapper` that runs each call as a task on dask.distributed (see
    :func:`dask_client`); results come back in the order of ``args``, equal to
    :func:`serial_map`'s. The cluster lives for one mapping."""
    check_workers(workers, scheduler)

    def run(fn: Callable[..., Any], args: Iterable[tuple[Any, ...]]) -> list[Any]:
        args = list(args)
        if not args:
            return []
        with dask_client(workers, scheduler, processes=processes) as client:
            futures = [client.submit(fn, *a, pure=False) for a in args]
            return list(client.gather(futures))

    return run


def _connect(distributed: Any, address: str) -> Any:
    try:
        return distributed.Client(address, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise InputError(
            t(
                f"无法连接 dask 调度器 {address}（{exc}）；请检查地址（如 tcp://主机:8786）与网络",
                f"cannot reach the dask scheduler {address} ({exc}); check the address "
                "(e.g. tcp://host:8786) and the network",
            )
        ) from None
