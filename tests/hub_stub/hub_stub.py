#!/usr/bin/env python3
"""A local stand-in for the Hugging Face hub's HTTP API, for mlx-host's tests (stdlib only).

    python3 hub_stub.py [--catalog FILE] [--token TOKEN] [--repo ORG/NAME=DIR ...] [--page-size N]

Listens on 127.0.0.1 with a free port and prints `PORT <n>` as its first stdout line (and nothing
else on stdout afterwards). Exits when its stdin closes (the test that started it ended or dropped
the pipe) or on SIGTERM. Every response is HTTP/1.1 with a Content-Length (connections are kept
alive), except that the drop fault below cuts the connection on purpose.

Options:
  --catalog FILE    the search catalog: a JSON list of model objects (id, downloads, likes,
                    library_name, pipeline_tag, tags, usedStorage, lastModified, siblings);
                    without it a small built-in one is used.
  --token TOKEN     every request except the /_stub/* control routes must carry
                    `Authorization: Bearer TOKEN`, else 401 (so tests can check the token is
                    sent). The token value is never logged or echoed.
  --repo ORG/NAME=DIR   (repeatable) serve the files under DIR (recursively, skipping any file or
                    folder whose name starts with `.`) as the model repo ORG/NAME. Ids may contain
                    `--` and `.`. A served repo is added to the search catalog (downloads 0,
                    library_name mlx, tags ["mlx"], usedStorage, siblings) unless its id is
                    already there.
  --page-size N     tree listing page size (default 1000; tests use 2 to exercise paging).

Repo content model (computed at startup, hashing streamed in 1 MiB chunks): for each file its
size, sha256, and git blob oid = sha1(b"blob <size>\\0" + content). A file is LFS if its name ends
with .safetensors/.bin/.npz/.gguf/.pt or it is >= 10 MiB. As in git, the oid of an LFS file (in
the tree listing and the commit) is the blob oid of its LFS pointer file
("version https://git-lfs.github.com/spec/v1\\noid sha256:<sha256>\\nsize <size>\\n", whose length
is `pointerSize`), not of its content. The repo's commit sha is sha1 over the sorted
`path\\0oid\\n` lines; a folder's oid is sha1 over the same lines of the files below it. The
revision `rev` in a URL (percent-decoded) may be `main` or the full commit sha.

Routes:
  GET /api/models   the model search: `search` (substring of the id, case-insensitive),
                    `author` (the id's org), `library` (library_name or a tag), `sort`
                    (downloads|likes|lastModified), `direction` (-1 descending), `limit`,
                    `expand[]` (when given, only `id` plus the expanded fields are returned,
                    as the real hub does; `usedStorage` only appears when expanded).
  GET /api/models/{org}/{name}[/revision/{rev}]
                    model info of a served repo, shaped like the hub's: _id, id, modelId, author,
                    sha (the commit), private, gated, disabled, downloads, likes, library_name,
                    tags, lastModified, createdAt, siblings [{rfilename}]. With `blobs=true` the
                    siblings also carry blobId, size and, for LFS files,
                    lfs {sha256, size, pointerSize}, as the hub does.
  GET /api/models/{org}/{name}/tree/{rev}[/{path}]
                    JSON list of the entries under path, sorted by path: folders
                    {type: "directory", oid, size: 0, path}, files {type: "file", oid, size, path}
                    plus for LFS files lfs {oid: <sha256>, size, pointerSize}. `recursive=true`
                    lists everything below path (folders included), else only its direct
                    children; `expand` is ignored. When more than --page-size entries remain, the
                    response has `Link: <http://127.0.0.1:PORT/api/models/ORG/NAME/tree/REV[/PATH]
                    ?recursive=...&cursor=OPAQUE>; rel="next"` (absolute, as the hub does).
                    A path that is not a folder is 404 EntryNotFound.
  GET|HEAD /{org}/{name}/resolve/{rev}/{path}
                    the file's bytes (path percent-decoded per segment, may contain `/`), with
                    X-Repo-Commit, Accept-Ranges: bytes, Content-Length,
                    Content-Type: application/octet-stream, and ETag: "<sha256>" (quoted) +
                    X-Linked-Etag: "<sha256>" + X-Linked-Size for LFS files, or
                    ETag: "<git blob oid>" for the others. (The real hub 302-redirects LFS files
                    to its CDN; this stub serves them directly.) `Range: bytes=A-`, `bytes=A-B`
                    or `bytes=-N` gives 206 with Content-Range: bytes A-B/N and just that slice;
                    A >= N gives 416 with Content-Range: bytes */N; other Range forms are ignored
                    (200, whole file). Bodies are streamed from disk with os.sendfile, or in
                    1 MiB read/write chunks when a fault applies.
  HEAD on the other GET routes gives the same status and headers without a body.

  Errors: unknown repo 404 {"error": "Repository not found"}, X-Error-Code: RepoNotFound; unknown
  revision 404 {"error": "Invalid rev id: <rev>"}, X-Error-Code: RevisionNotFound; unknown file or
  folder 404 {"error": "Entry not found"}, X-Error-Code: EntryNotFound (with X-Repo-Commit); every
  error also has X-Error-Message. Anything else is 404 {"error": ...}.

Control routes for tests (never need the token, never logged):
  POST /_stub/faults          JSON object merged into the fault settings; answers {"ok": true}.
      {"drop_after_bytes": N, "drop_path": P, "times": K}   the next K (default 1) GETs of the
          file at path P within any repo (every file when P is absent or null) send the full
          headers (Content-Length of the whole file or of the 206 slice), then only N bytes of
          body, then shut the connection down and close it (a network drop mid-file).
      {"corrupt_path": P}     GETs of P serve the content with the byte at offset size//2 flipped
          (XOR 0xFF) while the headers still declare the real size and sha256/etag. Stays until
          cleared (or set to null).
      {"delay_ms_per_chunk": N, "chunk_bytes": M}   file bodies are sent in M-byte chunks
          (default 65536) with N ms of sleep between chunks, so a test can cancel a pull midway.
          Stays until cleared (or N set to 0).
      {"clear": true}         reset all faults (applied before the other keys of the same body).
  GET  /_stub/faults          the current fault settings.
  GET  /_stub/requests        JSON list of every request so far except /_stub/* ones, in order:
                              {"method", "path" (without the query), "query" (raw string or
                              null), "range" (the Range header or null), "authorized" (whether an
                              Authorization header was present; its value is never recorded)},
                              and for POSTs to other paths (a notifier's webhook pointed at
                              the stub) "body", the first 4000 bytes as text.
  POST /_stub/requests/clear  empty that list.
"""

import argparse
import base64
import hashlib
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

CHUNK = 1024 * 1024
LFS_SUFFIXES = (".safetensors", ".bin", ".npz", ".gguf", ".pt")
LFS_MIN_SIZE = 10 * 1024 * 1024
STAMP = "2025-01-01T00:00:00.000Z"

BUILTIN_CATALOG = [
    {
        "id": "mlx-community/Qwen3-8B-4bit",
        "downloads": 51234,
        "likes": 87,
        "library_name": "mlx",
        "pipeline_tag": "text-generation",
        "tags": ["mlx", "safetensors", "qwen3", "text-generation", "4-bit"],
        "usedStorage": 4_620_000_000,
        "lastModified": "2025-05-01T10:00:00.000Z",
    },
    {
        "id": "mlx-community/Qwen3-0.6B-4bit",
        "downloads": 98765,
        "likes": 120,
        "library_name": "mlx",
        "pipeline_tag": "text-generation",
        "tags": ["mlx", "safetensors", "qwen3", "text-generation", "4-bit"],
        "usedStorage": 351_000_000,
        "lastModified": "2025-04-29T08:00:00.000Z",
    },
    {
        "id": "mlx-community/Llama-3.2-1B-Instruct-4bit",
        "downloads": 250000,
        "likes": 310,
        "library_name": "mlx",
        "pipeline_tag": "text-generation",
        "tags": ["mlx", "safetensors", "llama", "text-generation", "conversational"],
        "usedStorage": 712_000_000,
        "lastModified": "2024-09-25T12:00:00.000Z",
    },
    {
        "id": "someone/qwen3-mlx--dashes",
        "downloads": 12,
        "likes": 0,
        "library_name": "mlx",
        "pipeline_tag": "text-generation",
        "tags": ["mlx", "qwen3"],
        "lastModified": "2025-06-01T00:00:00.000Z",
    },
    {
        "id": "Qwen/Qwen3-8B",
        "downloads": 900000,
        "likes": 700,
        "library_name": "transformers",
        "pipeline_tag": "text-generation",
        "tags": ["transformers", "safetensors", "qwen3", "text-generation"],
        "usedStorage": 16_400_000_000,
        "lastModified": "2025-04-28T00:00:00.000Z",
    },
]


def git_blob_oid(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class RepoFile:
    """One served file: where it lives on disk and its hashes."""

    def __init__(self, path, disk_path):
        self.path = path
        self.disk_path = disk_path
        self.size = os.path.getsize(disk_path)
        blob = hashlib.sha1(b"blob %d\0" % self.size)
        sha256 = hashlib.sha256()
        with open(disk_path, "rb") as f:
            while True:
                chunk = f.read(CHUNK)
                if not chunk:
                    break
                blob.update(chunk)
                sha256.update(chunk)
        self.blob_oid = blob.hexdigest()
        self.sha256 = sha256.hexdigest()
        self.lfs = path.endswith(LFS_SUFFIXES) or self.size >= LFS_MIN_SIZE
        if self.lfs:
            pointer = (
                f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\n"
                f"size {self.size}\n"
            ).encode()
            self.pointer_size = len(pointer)
            self.oid = git_blob_oid(pointer)  # what git (and the hub's tree listing) reports
        else:
            self.pointer_size = None
            self.oid = self.blob_oid

    def etag(self):
        return self.sha256 if self.lfs else self.blob_oid

    def tree_entry(self):
        entry = {"type": "file", "oid": self.oid, "size": self.size, "path": self.path}
        if self.lfs:
            entry["lfs"] = {"oid": self.sha256, "size": self.size, "pointerSize": self.pointer_size}
        return entry


def oid_of_lines(files):
    lines = sorted(f"{f.path}\0{f.oid}\n" for f in files)
    return hashlib.sha1("".join(lines).encode()).hexdigest()


class Repo:
    """A model repo served from a folder."""

    def __init__(self, repo_id, folder):
        self.id = repo_id
        self.files = {}
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if name.startswith("."):
                    continue
                disk = os.path.join(dirpath, name)
                rel = os.path.relpath(disk, folder).replace(os.sep, "/")
                self.files[rel] = RepoFile(rel, disk)
        self.dirs = set()
        for path in self.files:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                self.dirs.add("/".join(parts[:i]))
        self.commit = oid_of_lines(self.files.values())
        self.dir_oids = {
            d: oid_of_lines(f for p, f in self.files.items() if p.startswith(d + "/"))
            for d in self.dirs
        }
        self.entries = sorted(
            [f.tree_entry() for f in self.files.values()]
            + [{"type": "directory", "oid": self.dir_oids[d], "size": 0, "path": d} for d in self.dirs],
            key=lambda e: e["path"],
        )

    def catalog_entry(self):
        return {
            "id": self.id,
            "downloads": 0,
            "likes": 0,
            "library_name": "mlx",
            "tags": ["mlx"],
            "usedStorage": sum(f.size for f in self.files.values()),
            "lastModified": STAMP,
            "siblings": [{"rfilename": p} for p in sorted(self.files)],
        }

    def tree(self, prefix, recursive):
        """The sorted entries below folder `prefix` ("" = root), or None if it is no folder."""
        if prefix and prefix not in self.dirs:
            return None
        base = prefix + "/" if prefix else ""
        out = []
        for entry in self.entries:
            path = entry["path"]
            if not path.startswith(base):
                continue
            if recursive or "/" not in path[len(base):]:
                out.append(entry)
        return out


class State:
    """What the control routes change: the fault settings and the request log."""

    lock = threading.Lock()
    faults = {}
    requests = []


class Hub(BaseHTTPRequestHandler):
    catalog = BUILTIN_CATALOG
    token = None
    repos = {}
    page_size = 1000
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes

    def log_message(self, format, *args):  # keep test output quiet
        pass

    # --- responses -------------------------------------------------------------------------

    def send_json(self, status, value, headers=()):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, val in headers:
            self.send_header(name, val)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error_code(self, code, message, extra=()):
        headers = [("X-Error-Code", code), ("X-Error-Message", message), *extra]
        self.send_json(404, {"error": message}, headers)

    # --- dispatch --------------------------------------------------------------------------

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path.startswith("/_stub/"):
            return self.control_get(url.path)
        self.record(url)
        if self.token is not None and self.headers.get("Authorization") != f"Bearer {self.token}":
            return self.send_json(401, {"error": "Invalid credentials in Authorization header"})
        query = parse_qs(url.query)
        if url.path == "/api/models":
            return self.search_models(query)
        seg = url.path.split("/")[1:]
        if len(seg) >= 4 and seg[0] == "api" and seg[1] == "models":
            repo_id = unquote(seg[2]) + "/" + unquote(seg[3])
            rest = seg[4:]
            if not rest or rest == [""]:
                return self.model_info(repo_id, "main", query)
            if len(rest) == 2 and rest[0] == "revision":
                return self.model_info(repo_id, unquote(rest[1]), query)
            if len(rest) >= 2 and rest[0] == "tree":
                path = "/".join(unquote(s) for s in rest[2:] if s)
                return self.tree(repo_id, unquote(rest[1]), path, query)
        if len(seg) >= 5 and seg[2] == "resolve":
            repo_id = unquote(seg[0]) + "/" + unquote(seg[1])
            path = "/".join(unquote(s) for s in seg[4:] if s)
            return self.resolve(repo_id, unquote(seg[3]), path)
        self.send_json(404, {"error": f"no route {url.path} in the hub stub"})

    do_HEAD = do_GET

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        if url.path == "/_stub/faults":
            try:
                body = json.loads(raw or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("not an object")
            except ValueError as err:
                return self.send_json(400, {"error": f"bad JSON: {err}"})
            with State.lock:
                if body.pop("clear", False):
                    State.faults = {}
                State.faults.update(body)
                if "drop_after_bytes" in body and "times" not in body:
                    State.faults["times"] = 1
            return self.send_json(200, {"ok": True})
        if url.path == "/_stub/requests/clear":
            with State.lock:
                State.requests = []
            return self.send_json(200, {"ok": True})
        self.record(url, raw)
        if self.token is not None and self.headers.get("Authorization") != f"Bearer {self.token}":
            return self.send_json(401, {"error": "Invalid credentials in Authorization header"})
        self.send_json(404, {"error": f"no route POST {url.path} in the hub stub"})

    def record(self, url, body=None):
        entry = {
            "method": self.command,
            "path": url.path,
            "query": url.query or None,
            "range": self.headers.get("Range"),
            "authorized": self.headers.get("Authorization") is not None,
        }
        if body is not None:
            # POSTs to other paths (a notifier's webhook pointed here) keep their body.
            entry["body"] = body[:4000].decode("utf-8", "replace")
        with State.lock:
            State.requests.append(entry)

    def control_get(self, path):
        with State.lock:
            if path == "/_stub/requests":
                value = list(State.requests)
            elif path == "/_stub/faults":
                value = dict(State.faults)
            else:
                value = None
        if value is None:
            return self.send_json(404, {"error": f"no route {path} in the hub stub"})
        self.send_json(200, value)

    # --- search ----------------------------------------------------------------------------

    def search_models(self, query):
        def one(name, default=None):
            return query.get(name, [default])[0]

        models = list(self.catalog)
        if one("search"):
            needle = one("search").lower()
            models = [m for m in models if needle in m["id"].lower()]
        if one("author"):
            models = [m for m in models if m["id"].split("/")[0] == one("author")]
        if one("library"):
            library = one("library")
            models = [
                m for m in models if m.get("library_name") == library or library in m.get("tags", [])
            ]
        sort = one("sort")
        if sort:
            models.sort(key=lambda m: m.get(sort) or 0, reverse=one("direction") == "-1")
        try:
            limit = int(one("limit", "1000"))
        except ValueError:
            return self.send_json(400, {"error": "limit must be an integer"})
        models = models[:limit]
        expand = query.get("expand[]")
        if expand:
            models = [{"id": m["id"], **{k: m[k] for k in expand if k in m}} for m in models]
        else:
            models = [{k: v for k, v in m.items() if k not in ("usedStorage", "siblings")} for m in models]
        for m in models:
            m["modelId"] = m["id"]
        self.send_json(200, models)

    # --- repos -----------------------------------------------------------------------------

    def find(self, repo_id, rev):
        """The repo, or None after answering 404 (unknown repo or revision)."""
        repo = self.repos.get(repo_id)
        if repo is None:
            self.send_error_code("RepoNotFound", "Repository not found")
            return None
        if rev not in ("main", repo.commit):
            self.send_error_code("RevisionNotFound", f"Invalid rev id: {rev}")
            return None
        return repo

    def model_info(self, repo_id, rev, query):
        repo = self.find(repo_id, rev)
        if repo is None:
            return
        blobs = query.get("blobs", ["false"])[0] == "true"
        siblings = []
        for path in sorted(repo.files):
            f = repo.files[path]
            sibling = {"rfilename": path}
            if blobs:
                sibling.update(blobId=f.oid, size=f.size)
                if f.lfs:
                    sibling["lfs"] = {"sha256": f.sha256, "size": f.size, "pointerSize": f.pointer_size}
            siblings.append(sibling)
        org = repo_id.split("/")[0]
        self.send_json(
            200,
            {
                "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24],
                "id": repo_id,
                "modelId": repo_id,
                "author": org,
                "sha": repo.commit,
                "private": False,
                "gated": False,
                "disabled": False,
                "downloads": 0,
                "likes": 0,
                "library_name": "mlx",
                "tags": ["mlx"],
                "lastModified": STAMP,
                "createdAt": STAMP,
                "siblings": siblings,
            },
        )

    def tree(self, repo_id, rev, path, query):
        repo = self.find(repo_id, rev)
        if repo is None:
            return
        recursive = query.get("recursive", ["false"])[0] == "true"
        entries = repo.tree(path, recursive)
        if entries is None:
            return self.send_error_code(
                "EntryNotFound", "Entry not found", [("X-Repo-Commit", repo.commit)]
            )
        try:
            start = int(base64.urlsafe_b64decode(query["cursor"][0]).decode()) if "cursor" in query else 0
        except (ValueError, UnicodeDecodeError):
            return self.send_json(400, {"error": "invalid cursor"})
        page = entries[start:start + self.page_size]
        headers = []
        if start + self.page_size < len(entries):
            cursor = base64.urlsafe_b64encode(str(start + self.page_size).encode()).decode()
            port = self.server.server_address[1]
            link_path = urlsplit(self.path).path
            recursive_arg = "true" if recursive else "false"
            next_url = (
                f"http://127.0.0.1:{port}{link_path}"
                f"?recursive={recursive_arg}&cursor={quote(cursor, safe='')}"
            )
            headers.append(("Link", f'<{next_url}>; rel="next"'))
        self.send_json(200, page, headers)

    def resolve(self, repo_id, rev, path):
        repo = self.find(repo_id, rev)
        if repo is None:
            return
        f = repo.files.get(path)
        if f is None:
            return self.send_error_code(
                "EntryNotFound", "Entry not found", [("X-Repo-Commit", repo.commit)]
            )
        size = f.size
        start, end, status = 0, size - 1, 200
        wanted = self.headers.get("Range")
        if wanted:
            parsed = parse_range(wanted, size)
            if parsed == "unsatisfiable":
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Type", "application/json")
                body = b'{"error": "Range Not Satisfiable"}'
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                return
            if parsed is not None:
                start, end = parsed
                status = 206
        length = end - start + 1
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("X-Repo-Commit", repo.commit)
        self.send_header("ETag", f'"{f.etag()}"')
        if f.lfs:
            self.send_header("X-Linked-Etag", f'"{f.sha256}"')
            self.send_header("X-Linked-Size", str(size))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if self.command == "HEAD" or length == 0:
            return
        self.send_body(f, start, length)

    def send_body(self, f, start, length):
        with State.lock:
            faults = dict(State.faults)
            drop = None
            if "drop_after_bytes" in faults and faults.get("drop_path") in (None, f.path):
                if faults.get("times", 1) > 0:
                    drop = max(0, int(faults["drop_after_bytes"]))
                    State.faults["times"] = faults.get("times", 1) - 1
        corrupt_at = f.size // 2 if faults.get("corrupt_path") == f.path else None
        delay = (faults.get("delay_ms_per_chunk") or 0) / 1000.0
        chunk = int(faults.get("chunk_bytes") or 65536) if delay else CHUNK
        sock = self.connection
        try:
            with open(f.disk_path, "rb") as src:
                if drop is None and corrupt_at is None and not delay:
                    return self.sendfile(sock, src, start, length)
                limit = length if drop is None else min(drop, length)
                offset, sent = start, 0
                src.seek(start)
                while sent < limit:
                    data = src.read(min(chunk, limit - sent))
                    if not data:
                        break
                    if corrupt_at is not None and offset <= corrupt_at < offset + len(data):
                        buf = bytearray(data)
                        buf[corrupt_at - offset] ^= 0xFF
                        data = bytes(buf)
                    sock.sendall(data)
                    sent += len(data)
                    offset += len(data)
                    if delay and sent < limit:
                        time.sleep(delay)
                if drop is not None:
                    self.close_connection = True
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    sock.close()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            self.close_connection = True  # the client went away (e.g. a cancelled pull)

    @staticmethod
    def sendfile(sock, src, offset, length):
        try:
            out = sock.fileno()
            while length > 0:
                n = os.sendfile(out, src.fileno(), offset, length)
                if n == 0:
                    raise BrokenPipeError("file shrank while serving it")
                offset += n
                length -= n
        except (AttributeError, OSError) as err:
            if isinstance(err, (BrokenPipeError, ConnectionResetError)):
                raise
            src.seek(offset)  # no usable sendfile here: plain read/write
            while length > 0:
                data = src.read(min(CHUNK, length))
                if not data:
                    raise BrokenPipeError("file shrank while serving it")
                sock.sendall(data)
                offset += len(data)
                length -= len(data)


def parse_range(value, size):
    """(start, end) for a single `bytes=` range, "unsatisfiable", or None to ignore the header."""
    unit, _, spec = value.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":  # bytes=-N: the last N bytes
            n = int(last)
            if n <= 0:
                return "unsatisfiable"
            return (max(0, size - n), size - 1) if size else "unsatisfiable"
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size:
        return "unsatisfiable"
    if end < start:
        return None
    return start, min(end, size - 1)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # pulls open many ranged connections at once

    def handle_error(self, request, client_address):
        # A client that hangs up (a cancelled or killed pull) is expected in tests: stay quiet.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--catalog")
    parser.add_argument("--token")
    parser.add_argument("--repo", action="append", default=[], metavar="ORG/NAME=DIR")
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()
    if args.catalog:
        with open(args.catalog) as f:
            Hub.catalog = json.load(f)
    Hub.token = args.token
    if args.page_size < 1:
        parser.error("--page-size must be at least 1")
    Hub.page_size = args.page_size
    repos = {}
    for spec in args.repo:
        repo_id, eq, folder = spec.partition("=")
        if not eq or repo_id.count("/") != 1 or not all(repo_id.split("/")) or not os.path.isdir(folder):
            parser.error(f"--repo wants ORG/NAME=DIR with an existing DIR, got {spec!r}")
        repos[repo_id] = Repo(repo_id, folder)
    Hub.repos = repos
    known = {m["id"] for m in Hub.catalog}
    Hub.catalog = list(Hub.catalog) + [r.catalog_entry() for r in repos.values() if r.id not in known]

    server = Server(("127.0.0.1", 0), Hub)
    print(f"PORT {server.server_address[1]}", flush=True)

    def stop_when_stdin_closes():
        sys.stdin.read()
        server.shutdown()

    threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()


if __name__ == "__main__":
    main()
