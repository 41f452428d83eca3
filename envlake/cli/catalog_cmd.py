"""envlake catalog: build the shared-data catalogue (公共数据目录) and serve it on 127.0.0.1."""

from __future__ import annotations

import mimetypes
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated

import pyarrow.fs as pafs
import typer

from envlake.cli.output import console, fail, print_json, print_table
from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from envlake.modelling.runner import DbtRunError

app = typer.Typer(help="The shared-data catalogue: every shared dataset, its classes, freshness and quality.",
                  no_args_is_help=True)


@app.command("build")
def build(as_json: Annotated[bool, typer.Option("--json", help="Print the catalogue as JSON.")] = False) -> None:
    """Write the catalogue (catalogue.json and a static HTML site) to the lake's _meta/catalogue/."""
    from envlake.catalogue.build import write

    try:
        doc, folder = write(Settings.from_env())
    except DbtRunError as exc:
        fail(str(exc))
    if as_json:
        print_json(doc)
        return
    print_table("公共数据目录 — shared datasets", ["dataset", "名称", "共享类型", "级别", "状态", "rows", "quality"],
                [[d["id"], d["name_zh"], doc["sharing_classes"][d["sharing_class"]], d["security_level"],
                  doc["freshness_states"][d["freshness"]], d.get("rows"),
                  "" if d["quality"]["pass_rate"] is None else f"{d['quality']['pass_rate']:.0%}"]
                 for d in doc["shared"]])
    console.print(f"catalogue written: {folder}/index.html ({len(doc['shared'])} shared, "
                  f"{len(doc['sources'])} source datasets)", highlight=False)


# The catalogue's pages are named by dataset ids: plain ASCII, no escapes. Any other request path
# (a folder, "..", an encoded slash, a backslash, a megabyte of path) is not a page.
PAGE = re.compile(r"(?:[A-Za-z0-9_-]+/){0,3}[A-Za-z0-9_-]+\.(?:html|json)")
MAX_PATH = 256
ALLOWED_METHODS = "GET, HEAD"


def page_name(request_path: str) -> str | None:
    """The page a request path names, or None."""
    path = request_path.split("?", 1)[0].split("#", 1)[0]
    if len(path) > MAX_PATH or not path.startswith("/"):
        return None
    path = path[1:] or "index.html"
    return path if PAGE.fullmatch(path) else None


def handler_for(lake: Lake, folder: str) -> type[BaseHTTPRequestHandler]:
    class CatalogueHandler(BaseHTTPRequestHandler):
        def _page(self) -> tuple[str, bytes] | None:
            name = page_name(self.path)
            if name is None:
                return None
            path = f"{folder}/{name}"
            try:
                if lake.fs.get_file_info(path).type != pafs.FileType.File:
                    return None
                data = lake.read_bytes(path)
            except OSError:  # removed or rewritten between the look and the read
                return None
            return None if data is None else (name, data)

        def _answer(self, with_body: bool) -> None:
            page = self._page()
            if page is None:
                self.send_error(404, "not a page of the catalogue")
                return
            name, data = page
            kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
            self.send_response(200)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if with_body:
                self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer(with_body=True)

        def do_HEAD(self) -> None:
            self._answer(with_body=False)

        def _not_allowed(self) -> None:
            self.send_response(405)
            self.send_header("Allow", ALLOWED_METHODS)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _not_allowed

        def log_message(self, format: str, *args: object) -> None:
            pass

    return CatalogueHandler


@app.command("serve")
def serve(port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8765,
          rebuild: Annotated[bool, typer.Option(help="Build the catalogue first.")] = True) -> None:
    """Serve the catalogue on http://127.0.0.1:PORT/ (Ctrl-C stops it)."""
    from envlake.catalogue.build import write

    settings = Settings.from_env()
    lake = Lake(settings.lake)
    folder = lake.path("_meta", "catalogue")
    if rebuild:
        write(settings)
    elif lake.read_bytes(f"{folder}/index.html") is None:
        fail("no catalogue built yet", "run `envlake catalog build` or drop --no-rebuild")
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler_for(lake, folder))
    except OSError as exc:
        fail(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}", "choose another --port")
    console.print(f"公共数据目录: http://127.0.0.1:{port}/", highlight=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
