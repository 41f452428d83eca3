"""envlake catalog: build the shared-data catalogue (公共数据目录) and serve it on 127.0.0.1."""

from __future__ import annotations

import mimetypes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated

import typer

from connectors.lakefs import Lake
from connectors.modelling.runner import DbtRunError
from connectors.settings import Settings
from envlake_cli.output import console, fail, print_json, print_table

app = typer.Typer(help="The shared-data catalogue: every shared dataset, its classes, freshness and quality.",
                  no_args_is_help=True)


@app.command("build")
def build(as_json: Annotated[bool, typer.Option("--json", help="Print the catalogue as JSON.")] = False) -> None:
    """Write the catalogue (catalogue.json and a static HTML site) to the lake's _meta/catalogue/."""
    from quality.catalogue import write

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


def handler_for(lake: Lake, folder: str) -> type[BaseHTTPRequestHandler]:
    class CatalogueHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].lstrip("/") or "index.html"
            if ".." in path.split("/"):
                self.send_error(404)
                return
            data = lake.read_bytes(f"{folder}/{path}")
            if data is None:
                self.send_error(404, "not in the catalogue")
                return
            kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
            self.send_response(200)
            self.send_header("Content-Type", f"{kind}; charset=utf-8" if kind.startswith("text") or
                             kind.endswith("json") else kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return CatalogueHandler


@app.command("serve")
def serve(port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8765,
          rebuild: Annotated[bool, typer.Option(help="Build the catalogue first.")] = True) -> None:
    """Serve the catalogue on http://127.0.0.1:PORT/ (Ctrl-C stops it)."""
    from quality.catalogue import write

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
