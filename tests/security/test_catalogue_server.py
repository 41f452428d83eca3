"""Issue 17: `envlake catalog serve` answers 404 for any path that is not a page of the catalogue, and no
request, however shaped, drops the connection with a traceback."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

from envlake.cli.catalog_cmd import handler_for, page_name
from envlake.kernel.lake import Lake
from tests.conftest import free_port

PAGES = {"index.html": "<h1>公共数据目录</h1>", "catalogue.json": '{"shared": []}',
         "datasets/fct_air_quality_daily.html": "<h1>空气质量日报</h1>"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    lake = Lake(str(tmp_path_factory.mktemp("lake")))
    folder = lake.path("_meta", "catalogue")
    for name, text in PAGES.items():
        lake.write_bytes(text.encode(), f"{folder}/{name}")
    lake.write_bytes(b"secret", lake.path("_meta", "load_log", "x.parquet"))  # beside the catalogue, not in it
    port = free_port()
    httpd = ThreadingHTTPServer(("127.0.0.1", port), handler_for(lake, folder))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        httpd.shutdown()
        httpd.server_close()


def raw_request(port: int, request_line: str) -> tuple[int, bytes]:
    """Send the request line as it is (no client normalises the path), return the status and the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"{request_line}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode("latin-1"))
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer, f"connection dropped without an answer: {request_line[:80]}"
    if not answer.startswith(b"HTTP/"):  # an HTTP/0.9-shaped request is answered in kind: the error page alone
        assert b"Error response" in answer
        return 400, answer
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize(("path", "text"), [("/", "公共数据目录"), ("/index.html", "公共数据目录"),
                                            ("/index.html?q=空气", "公共数据目录"), ("/catalogue.json", "shared"),
                                            ("/datasets/fct_air_quality_daily.html", "空气质量日报")])
def test_pages_are_served(server: int, path: str, text: str) -> None:
    status, body = raw_request(server, f"GET {path} HTTP/1.1".encode().decode("latin-1"))
    assert status == 200 and text in body.decode()


NOT_PAGES = [
    "/datasets", "/datasets/", "/datasets//fct_air_quality_daily.html", "/_meta", "/nosuch.html",
    "/../index.html", "/datasets/../index.html", "/./index.html", "/datasets/./fct_air_quality_daily.html",
    "/%2e%2e/index.html", "/.%2e/load_log/x.parquet", "/../load_log/x.parquet", "/..%2fload_log%2fx.parquet",
    "/datasets%2Ffct_air_quality_daily.html", "/datasets%2ffct_air_quality_daily.html", "/%69ndex.html",
    "/datasets\\fct_air_quality_daily.html", "/index.html/", "/index.html%00", "/index.html;.json", "/~",
    "/~root/.bashrc", "/etc/passwd", "/%2Fetc%2Fpasswd", "/INDEX.HTML", "/index.htm", "/.index.html",
    "/datasets/.fct_air_quality_daily.html.abc.inflight", "http://127.0.0.1/index.html", "index.html", "*",
    "/" + "a" * 5_000 + ".html", "/a/" * 300, "/" + "datasets/" * 50 + "x.html",
]


@pytest.mark.parametrize("path", NOT_PAGES)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_anything_else_is_404(server: int, path: str, method: str, capfd: pytest.CaptureFixture) -> None:
    status, body = raw_request(server, f"{method} {path} HTTP/1.1")
    assert status == 404
    assert b"secret" not in body
    assert "Traceback" not in capfd.readouterr().err
    assert raw_request(server, "GET / HTTP/1.1")[0] == 200  # and the server still serves


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"])
def test_other_methods_are_not_allowed(server: int, method: str, capfd: pytest.CaptureFixture) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server, timeout=10)
    connection.request(method, "/index.html", body=b"x" * 10)
    response = connection.getresponse()
    assert response.status == 405 and response.getheader("Allow") == "GET, HEAD"
    connection.close()
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("request_line", ["BREW /index.html HTTP/1.1", "GET", "GET /index.html HTTP/9.9",
                                          "\x00\x01\x02", "GET /" + "x" * 70_000 + " HTTP/1.1"])
def test_odd_requests_get_an_answer(server: int, request_line: str, capfd: pytest.CaptureFixture) -> None:
    status, _ = raw_request(server, request_line)
    assert 400 <= status < 600 and status != 500
    assert "Traceback" not in capfd.readouterr().err


def test_head_answers_without_a_body(server: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server, timeout=10)
    connection.request("HEAD", "/index.html")
    response = connection.getresponse()
    assert response.status == 200 and int(response.getheader("Content-Length")) > 0 and response.read() == b""


def test_page_names() -> None:
    assert page_name("/") == "index.html"
    assert page_name("/datasets/x_1.html?a=b#c") == "datasets/x_1.html"
    assert all(page_name(p) is None for p in NOT_PAGES if p not in ("/nosuch.html", "/INDEX.HTML", "/index.htm"))
