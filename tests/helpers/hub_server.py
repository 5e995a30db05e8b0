"""A Hugging Face hub on 127.0.0.1: enough of its HTTP API for `snapshot_download`.

It serves model folders as repositories at one fixed commit: repository info
(`/api/models/<id>/revision/<rev>`), the file tree (`/api/models/<id>/tree/<rev>`)
and the files (`HEAD`/`GET /<id>/resolve/<rev>/<path>`, with the `X-Repo-Commit`
and `ETag` headers the client reads). Unknown repositories get the 404 with
`X-Error-Code: RepoNotFound` that the real hub sends. Point the client at it with
`HF_ENDPOINT=hub.url`. Every request is recorded in `requests` ("METHOD path").
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubServer:
    def __init__(self, repos: dict[str, Path]):
        self.repos = {repo_id: Path(folder) for repo_id, folder in repos.items()}
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "HubServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _files(self, repo_id: str) -> dict[str, Path]:
        folder = self.repos[repo_id]
        return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}

    def _route(self, path: str) -> tuple[str, str, str] | None:
        """(kind, repo_id, rest) for the three routes, longest repository id first."""
        for repo_id in sorted(self.repos, key=len, reverse=True):
            for kind, prefix in (("info", f"/api/models/{repo_id}/revision/"), ("tree", f"/api/models/{repo_id}/tree/"),
                                 ("file", f"/{repo_id}/resolve/")):
                if path.startswith(prefix):
                    return kind, repo_id, path[len(prefix):]
        return None

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet test output
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str], head_only: bool = False) -> None:
                self.send_response(status)
                for key, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(key, value)
                self.end_headers()
                if not head_only:
                    self.wfile.write(body)

            def _json(self, value) -> None:
                self._send(200, json.dumps(value).encode(), {"Content-Type": "application/json"})

            def _not_found(self, code: str, head_only: bool) -> None:
                body = json.dumps({"error": f"{code}: {self.path}"}).encode()
                self._send(404, body, {"Content-Type": "application/json", "X-Error-Code": code,
                                       "X-Error-Message": code}, head_only)

            def _serve(self, head_only: bool) -> None:
                path = unquote(urlsplit(self.path).path)
                hub.requests.append(f"{self.command} {path}")
                route = hub._route(path)
                if route is None:
                    return self._not_found("RepoNotFound", head_only)
                kind, repo_id, rest = route
                files = hub._files(repo_id)
                if kind == "info":
                    return self._json({"id": repo_id, "modelId": repo_id, "sha": COMMIT, "private": False,
                                       "siblings": [{"rfilename": name} for name in files]})
                if kind == "tree":
                    return self._json([{"type": "file", "path": name, "size": p.stat().st_size,
                                        "oid": _git_blob_id(p.read_bytes())} for name, p in files.items()])
                _revision, _, name = rest.partition("/")
                if name not in files:
                    return self._not_found("EntryNotFound", head_only)
                data = files[name].read_bytes()
                self._send(200, data, {"X-Repo-Commit": COMMIT, "ETag": f'"{_git_blob_id(data)}"',
                                       "Content-Type": "application/octet-stream"}, head_only)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._serve(head_only=False)

            def do_HEAD(self) -> None:  # noqa: N802
                self._serve(head_only=True)

        return Handler
