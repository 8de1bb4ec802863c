"""The Dask back-end: a local cluster nobody else can use, and schedulers that fail fast.

One local cluster for the module (starting one takes seconds on two cores): it must listen
on loopback only, over TLS with its own certificates, serve nothing over HTTP, start no more
workers than tasks, and still give in-process results bit for bit.
"""

from __future__ import annotations

import socket
import ssl
import time

import pandas as pd
import pytest

from hemodel.run.parallel import CONNECT_TIMEOUT, Executor, SchedulerUnreachable
from hemodel.run.simulation import simulate
from hemodel.scenario.load import scenario_from_dict
from tests.conftest import tiny_dict

pytest.importorskip("distributed")
pytest.importorskip("cryptography")
psutil = pytest.importorskip("psutil")

SCENARIO = scenario_from_dict(tiny_dict(), name="tiny")
LAB = scenario_from_dict(tiny_dict(**{"lab.capacity": 2}), name="tiny-lab")


def _listening(pid: int) -> set[int]:
    """TCP ports process ``pid`` listens on."""
    connections = psutil.Process(pid).net_connections("tcp")
    return {c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN}


def _square(_shared, x: int) -> int:
    return x * x


@pytest.fixture(scope="module")
def cluster():
    """``(executor, ports the test process opened for it)``: a local cluster allowed 8
    workers, whose first map has two tasks."""
    before = _listening(psutil.Process().pid)
    with Executor(8, "dask", oversubscribe=True) as ex:
        assert ex.map(_square, [3, 4]) == [9, 16]
        yield ex, _listening(psutil.Process().pid) - before


def _addresses(ex: Executor) -> dict[str, list[str]]:
    info = ex._client.scheduler_info()
    return {
        "scheduler": [info["address"]],
        "workers": list(info["workers"]),
        "nannies": [w["nanny"] for w in info["workers"].values()],
    }


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def test_no_more_workers_than_tasks(cluster):
    ex, _ = cluster
    assert len(ex.worker_pids()) == 2  # 8 allowed, 2 tasks


def test_the_local_cluster_listens_on_loopback_over_tls_only(cluster):
    ex, opened = cluster
    where = _addresses(ex)
    assert all(a.startswith("tls://127.0.0.1:") for a in sum(where.values(), []))
    # this process holds the scheduler and the nannies and nothing else new (no dashboard);
    # each worker process listens on its own address only (no HTTP server)
    assert opened == {_port(a) for a in where["scheduler"] + where["nannies"]}
    worker_ports = set()
    for pid in ex.worker_pids():
        worker_ports |= _listening(pid)
    assert worker_ports == {_port(a) for a in where["workers"]}
    ports = opened | worker_ports
    assert len(ports) == 5 and 8787 not in ports
    for port in ports:  # nothing answers HTTP
        with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
            sock.settimeout(3)
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            try:
                answer = sock.recv(100)
            except OSError:  # reset: a TLS server given plain text
                answer = b""
        assert not answer.startswith(b"HTTP"), (port, answer)


def _handshake(port: int, context: ssl.SSLContext) -> str:
    """What a TLS client presenting ``context``'s certificate gets from ``port``: a Dask
    server greets a client whose certificate its own authority signed, and drops others."""
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the server's certificate is not the question here
    with socket.create_connection(("127.0.0.1", port), timeout=3) as raw:
        try:
            with context.wrap_socket(raw) as sock:
                sock.settimeout(3)
                return "closed" if sock.recv(1) == b"" else "greeted"
        except (ssl.SSLError, ConnectionError) as exc:
            return f"refused: {exc}"


def test_only_our_certificates_are_accepted(cluster):
    """Every port takes a TLS client with the cluster's certificate and refuses one with
    another (from another Security.temporary()), as another local user would have."""
    from distributed import Security

    ex, _ = cluster
    ours = ex._cluster.security.get_connection_args("client")["ssl_context"]
    theirs = Security.temporary().get_connection_args("client")["ssl_context"]
    for address in sum(_addresses(ex).values(), []):
        assert _handshake(_port(address), ours) == "greeted"
        assert "unknown ca" in _handshake(_port(address), theirs)


@pytest.mark.parametrize("how", ["plain tcp", "other certificates"])
def test_another_client_cannot_run_a_task(cluster, how):
    from distributed import Client, Security

    ex, _ = cluster
    address = ex._client.scheduler.address
    kwargs = {"security": Security.temporary()} if how == "other certificates" else {}
    if how == "plain tcp":
        address = address.replace("tls://", "tcp://")
    clients = set(ex._client.run_on_scheduler(_client_ids))
    start = time.monotonic()
    with pytest.raises(Exception):  # noqa: B017 - how it fails is Dask's business
        Client(address, timeout=3, **kwargs).submit(_square, None, 5).result(timeout=3)
    assert time.monotonic() - start < 10
    assert set(ex._client.run_on_scheduler(_client_ids)) == clients  # nobody else joined


def _client_ids(dask_scheduler) -> list[str]:
    return list(dask_scheduler.clients)


def test_our_tasks_give_in_process_results(cluster):
    ex, _ = cluster
    here = simulate(SCENARIO, 60, 5, batch_size=20)
    there = simulate(SCENARIO, 60, 5, batch_size=20, executor=ex)
    pd.testing.assert_frame_equal(there.patients, here.patients, check_exact=True)


# -- schedulers given by address -----------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_scheduler_fails_fast_even_for_a_small_run():
    """A run that would stay in this process (20 patients, a finite lab) still contacts
    the scheduler, and gives up within a few seconds with a plain message."""
    address = f"tcp://127.0.0.1:{_closed_port()}"
    start = time.monotonic()
    with pytest.raises(SchedulerUnreachable) as caught:
        simulate(LAB, 20, 1, scheduler=address)
    assert CONNECT_TIMEOUT <= time.monotonic() - start < 2 * CONNECT_TIMEOUT
    message = str(caught.value)
    assert message.startswith(f"cannot reach the Dask scheduler at {address}: ")
    assert message.endswith("(is it running? is the address right?)")
    assert isinstance(caught.value, ConnectionError)


def test_a_scheduler_that_is_not_dask_is_unreachable():
    """A port that answers with something else (here an HTTP-like greeting) is refused
    with the same message, not a traceback from Dask's protocol."""
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n" * 100)
            time.sleep(CONNECT_TIMEOUT + 1)

    threading.Thread(target=answer, daemon=True).start()
    try:
        with pytest.raises(SchedulerUnreachable, match="is it running"):
            Executor(scheduler=f"tcp://127.0.0.1:{port}")
    finally:
        server.close()


@pytest.mark.parametrize(
    "address",
    [
        "foo",
        "tcp://",
        "http://x",
        "tcp://host:99999",
        "tcp://host:x",
        "tls://host:1/path",
        "x" * 5000,
    ],
)
def test_a_malformed_scheduler_address_is_refused(address):
    start = time.monotonic()
    with pytest.raises(ValueError, match="looks like tcp://HOST:PORT") as caught:
        Executor(scheduler=address)
    assert time.monotonic() - start < 1
    assert len(str(caught.value)) < 300  # a long value is cut


def test_a_tls_scheduler_without_certificates_is_explained():
    with pytest.raises(SchedulerUnreachable, match="TLS"):
        Executor(scheduler=f"tls://127.0.0.1:{_closed_port()}")
