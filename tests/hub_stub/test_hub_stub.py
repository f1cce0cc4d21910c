#!/usr/bin/env python3
"""Self-test of hub_stub.py (stdlib only): python3 tests/hub_stub/test_hub_stub.py"""

import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

STUB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hub_stub.py")
TOKEN = "s3cret-test-token"
REPO = "someone/qwen3-mlx--dashes"
OTHER = "org.x/tiny.model"


def git_blob_oid(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Stub:
    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [sys.executable, STUB, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        first = self.proc.stdout.readline().decode()
        match = re.fullmatch(r"PORT (\d+)\n", first)
        assert match, f"the stub said {first!r}"
        self.port = int(match.group(1))

    def stop(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("the stub did not exit when its stdin closed")
        self.proc.stdout.close()

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(self, method, path, headers=None, body=None, token=True, conn=None):
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {TOKEN}"
        own = conn is None
        conn = conn or self.conn()
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.headers, data
        finally:
            if own:
                conn.close()

    def json(self, path, **kw):
        status, headers, data = self.request("GET", path, **kw)
        return status, headers, json.loads(data) if data else None

    def control(self, path, value=None):
        body = json.dumps(value).encode() if value is not None else None
        status, _, data = self.request("POST" if body is not None or path.endswith("clear") else "GET",
                                       path, body=body, token=False,
                                       headers={"Content-Type": "application/json"})
        assert status == 200, (path, status, data)
        return json.loads(data)


class HubStubTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="hub-stub-test-")
        repo = os.path.join(cls.dir, "repo")
        os.makedirs(os.path.join(repo, "sub", "deep"))
        os.makedirs(os.path.join(repo, ".git"))
        cls.content = {
            "config.json": b'{"model_type": "qwen3"}\n',
            "tokenizer.json": b'{"tokens": []}\n',
            "sub/notes.txt": b"nested file\n",
            "sub/deep/extra.bin": b"\x00\x01binary" * 10,
            "model.safetensors": os.urandom(3 * 1024 * 1024 + 17),
        }
        for path, data in cls.content.items():
            with open(os.path.join(repo, path), "wb") as f:
                f.write(data)
        for hidden in (".gitattributes", ".git/HEAD"):
            with open(os.path.join(repo, hidden), "wb") as f:
                f.write(b"hidden")
        other = os.path.join(cls.dir, "other")
        os.makedirs(other)
        with open(os.path.join(other, "config.json"), "wb") as f:
            f.write(b"{}")
        cls.stub = Stub("--token", TOKEN, "--page-size", "2",
                        "--repo", f"{REPO}={repo}", "--repo", f"{OTHER}={other}")
        lines = sorted(
            f"{p}\0{cls.tree_oid(p)}\n" for p in cls.content
        )
        cls.commit = hashlib.sha1("".join(lines).encode()).hexdigest()

    @classmethod
    def tearDownClass(cls):
        cls.stub.stop()
        shutil.rmtree(cls.dir)

    def setUp(self):
        self.stub.control("/_stub/faults", {"clear": True})
        self.stub.control("/_stub/requests/clear")

    @classmethod
    def is_lfs(cls, path):
        return path.endswith((".safetensors", ".bin"))

    @classmethod
    def tree_oid(cls, path):
        data = cls.content[path]
        if not cls.is_lfs(path):
            return git_blob_oid(data)
        sha = hashlib.sha256(data).hexdigest()
        pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {len(data)}\n"
        return git_blob_oid(pointer.encode())

    def resolve_url(self, path, rev="main", repo=REPO):
        return f"/{repo}/resolve/{rev}/{path}"

    # --- model info --------------------------------------------------------------------------

    def test_model_info_has_the_commit_and_siblings(self):
        status, _, info = self.stub.json(f"/api/models/{REPO}")
        self.assertEqual(status, 200)
        self.assertEqual(info["sha"], self.commit)
        self.assertEqual(info["id"], REPO)
        self.assertEqual(info["modelId"], REPO)
        self.assertEqual(info["author"], "someone")
        self.assertRegex(info["_id"], r"^[0-9a-f]{24}$")
        self.assertEqual([s["rfilename"] for s in info["siblings"]], sorted(self.content))
        for rev in ("main", self.commit):
            status, _, again = self.stub.json(f"/api/models/{REPO}/revision/{rev}")
            self.assertEqual((status, again["sha"]), (200, self.commit))
        status, _, other = self.stub.json("/api/models/org.x/tiny.model")
        self.assertEqual((status, [s["rfilename"] for s in other["siblings"]]), (200, ["config.json"]))

    def test_model_info_with_blobs_has_sizes_and_lfs(self):
        _, _, info = self.stub.json(f"/api/models/{REPO}?blobs=true")
        by_name = {s["rfilename"]: s for s in info["siblings"]}
        model = self.content["model.safetensors"]
        self.assertEqual(by_name["model.safetensors"]["size"], len(model))
        self.assertEqual(by_name["model.safetensors"]["lfs"]["sha256"], hashlib.sha256(model).hexdigest())
        self.assertNotIn("lfs", by_name["config.json"])

    def test_unknown_repo_and_revision_are_404_with_error_codes(self):
        status, headers, body = self.stub.json("/api/models/someone/missing")
        self.assertEqual((status, headers["X-Error-Code"], body), (404, "RepoNotFound", {"error": "Repository not found"}))
        status, headers, body = self.stub.json(f"/api/models/{REPO}/revision/v9")
        self.assertEqual((status, headers["X-Error-Code"], body), (404, "RevisionNotFound", {"error": "Invalid rev id: v9"}))
        for path, code in [
            ("/someone/missing/resolve/main/config.json", "RepoNotFound"),
            (f"/{REPO}/resolve/{'0' * 40}/config.json", "RevisionNotFound"),
            (f"/{REPO}/resolve/main/nope.json", "EntryNotFound"),
            (f"/{REPO}/resolve/main/sub", "EntryNotFound"),
            (f"/{REPO}/resolve/main/.gitattributes", "EntryNotFound"),
        ]:
            for method in ("GET", "HEAD"):
                status, headers, _ = self.stub.request(method, path)
                self.assertEqual((status, headers["X-Error-Code"]), (404, code), (method, path))
        status, headers, _ = self.stub.json(f"/api/models/{REPO}/tree/main/nope")
        self.assertEqual((status, headers["X-Error-Code"]), (404, "EntryNotFound"))

    # --- tree --------------------------------------------------------------------------------

    def all_pages(self, path):
        """Follow Link headers; returns (entries, number of pages)."""
        entries, pages = [], 0
        conn = self.stub.conn()  # one keep-alive connection for every page
        try:
            while path:
                status, headers, data = self.stub.request("GET", path, conn=conn)
                self.assertEqual(status, 200, data)
                page = json.loads(data)
                self.assertLessEqual(len(page), 2)
                entries += page
                pages += 1
                link = headers.get("Link")
                if link is None:
                    break
                match = re.fullmatch(r'<http://127\.0\.0\.1:(\d+)(/[^>]*)>; rel="next"', link)
                self.assertIsNotNone(match, link)
                self.assertEqual(int(match.group(1)), self.stub.port)
                path = match.group(2)
        finally:
            conn.close()
        return entries, pages

    def test_recursive_tree_pages_through_every_entry_once(self):
        entries, pages = self.all_pages(f"/api/models/{REPO}/tree/main?recursive=true")
        paths = [e["path"] for e in entries]
        expected = sorted(list(self.content) + ["sub", "sub/deep"])
        self.assertEqual(paths, expected)
        self.assertEqual(pages, 4)  # 7 entries, 2 a page
        by_path = {e["path"]: e for e in entries}
        self.assertEqual(by_path["sub"]["type"], "directory")
        self.assertEqual(by_path["sub"]["size"], 0)
        self.assertRegex(by_path["sub"]["oid"], r"^[0-9a-f]{40}$")
        for path, data in self.content.items():
            entry = by_path[path]
            self.assertEqual((entry["type"], entry["size"], entry["oid"]), ("file", len(data), self.tree_oid(path)))
            if self.is_lfs(path):
                self.assertEqual(entry["lfs"]["oid"], hashlib.sha256(data).hexdigest())
                self.assertEqual(entry["lfs"]["size"], len(data))
                self.assertIsInstance(entry["lfs"]["pointerSize"], int)
            else:
                self.assertNotIn("lfs", entry)

    def test_non_recursive_tree_lists_direct_children(self):
        entries, _ = self.all_pages(f"/api/models/{REPO}/tree/main")
        self.assertEqual([e["path"] for e in entries], ["config.json", "model.safetensors", "sub", "tokenizer.json"])
        entries, _ = self.all_pages(f"/api/models/{REPO}/tree/{self.commit}/sub")
        self.assertEqual([e["path"] for e in entries], ["sub/deep", "sub/notes.txt"])
        entries, _ = self.all_pages(f"/api/models/{REPO}/tree/main/sub?recursive=true")
        self.assertEqual([e["path"] for e in entries], ["sub/deep", "sub/deep/extra.bin", "sub/notes.txt"])

    # --- resolve -----------------------------------------------------------------------------

    def test_head_headers(self):
        model = self.content["model.safetensors"]
        sha = hashlib.sha256(model).hexdigest()
        status, h, body = self.stub.request("HEAD", self.resolve_url("model.safetensors"))
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(h["ETag"], f'"{sha}"')
        self.assertEqual(h["X-Linked-Etag"], f'"{sha}"')
        self.assertEqual(h["X-Linked-Size"], str(len(model)))
        self.assertEqual(h["Content-Length"], str(len(model)))
        self.assertEqual(h["X-Repo-Commit"], self.commit)
        self.assertEqual(h["Accept-Ranges"], "bytes")
        self.assertEqual(h["Content-Type"], "application/octet-stream")
        status, h, _ = self.stub.request("HEAD", self.resolve_url("sub/notes.txt", self.commit))
        self.assertEqual(status, 200)
        self.assertEqual(h["ETag"], f'"{git_blob_oid(self.content["sub/notes.txt"])}"')
        self.assertNotIn("X-Linked-Etag", h)
        self.assertNotIn("X-Linked-Size", h)
        # percent-encoded segments are decoded
        status, h, _ = self.stub.request("HEAD", f"/someone/qwen3-mlx--dashes/resolve/main/sub%2Fnotes.txt")
        self.assertEqual(status, 200)

    def test_get_whole_files(self):
        conn = self.stub.conn()
        try:
            for path, data in self.content.items():
                status, h, body = self.stub.request("GET", self.resolve_url(path), conn=conn)
                self.assertEqual(status, 200)
                self.assertEqual(body, data, path)
                self.assertEqual(h["Content-Length"], str(len(data)))
        finally:
            conn.close()

    def test_ranges(self):
        model = self.content["model.safetensors"]
        n = len(model)
        url = self.resolve_url("model.safetensors")
        for spec, (a, b) in [
            ("bytes=0-0", (0, 0)),
            ("bytes=100-", (100, n - 1)),
            ("bytes=12345-2000000", (12345, 2000000)),
            (f"bytes={n - 10}-{n + 500}", (n - 10, n - 1)),
            ("bytes=-50", (n - 50, n - 1)),
        ]:
            status, h, body = self.stub.request("GET", url, headers={"Range": spec})
            self.assertEqual(status, 206, spec)
            self.assertEqual(h["Content-Range"], f"bytes {a}-{b}/{n}")
            self.assertEqual(h["Content-Length"], str(b - a + 1))
            self.assertEqual(body, model[a:b + 1], spec)
        for spec in (f"bytes={n}-", f"bytes={n + 7}-{n + 9}"):
            status, h, _ = self.stub.request("GET", url, headers={"Range": spec})
            self.assertEqual((status, h["Content-Range"]), (416, f"bytes */{n}"))

    # --- faults ------------------------------------------------------------------------------

    def raw_get(self, path, headers=()):
        """GET on a raw socket: (declared Content-Length, body bytes received before EOF)."""
        import socket

        sock = socket.create_connection(("127.0.0.1", self.stub.port), timeout=30)
        try:
            lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {TOKEN}", *headers]
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            data = b""
            while b"\r\n\r\n" not in data:
                more = sock.recv(65536)
                if not more:
                    raise AssertionError("connection closed inside the headers")
                data += more
            head, body = data.split(b"\r\n\r\n", 1)
            declared = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
            while len(body) < declared:
                try:
                    more = sock.recv(1 << 20)
                except ConnectionResetError:
                    break
                if not more:
                    break
                body += more
            return declared, body
        finally:
            sock.close()

    def test_drop_fault_cuts_the_body_once(self):
        model = self.content["model.safetensors"]
        self.stub.control("/_stub/faults", {"drop_after_bytes": 1000, "drop_path": "model.safetensors", "times": 1})
        declared, body = self.raw_get(self.resolve_url("model.safetensors"))
        self.assertEqual(declared, len(model))
        self.assertEqual(body, model[:1000])
        # other files are not affected, and the next GET is complete
        status, _, config = self.stub.request("GET", self.resolve_url("config.json"))
        self.assertEqual((status, config), (200, self.content["config.json"]))
        status, _, full = self.stub.request("GET", self.resolve_url("model.safetensors"))
        self.assertEqual((status, full), (200, model))

    def test_drop_fault_on_a_range_and_http_client_sees_it(self):
        model = self.content["model.safetensors"]
        self.stub.control("/_stub/faults", {"drop_after_bytes": 5000, "drop_path": "model.safetensors", "times": 2})
        declared, body = self.raw_get(self.resolve_url("model.safetensors"), ["Range: bytes=1000-"])
        self.assertEqual((declared, body), (len(model) - 1000, model[1000:6000]))
        with self.assertRaises(http.client.IncompleteRead):
            self.stub.request("GET", self.resolve_url("model.safetensors"))
        status, _, full = self.stub.request("GET", self.resolve_url("model.safetensors"),
                                            headers={"Range": "bytes=6000-"})
        self.assertEqual((status, full), (206, model[6000:]))

    def test_corrupt_fault_flips_one_byte_until_cleared(self):
        model = self.content["model.safetensors"]
        self.stub.control("/_stub/faults", {"corrupt_path": "model.safetensors"})
        for _ in range(2):
            status, h, body = self.stub.request("GET", self.resolve_url("model.safetensors"))
            self.assertEqual((status, len(body)), (200, len(model)))
            self.assertNotEqual(f'"{hashlib.sha256(body).hexdigest()}"', h["ETag"])
            diff = [i for i in range(len(model)) if body[i] != model[i]]
            self.assertEqual(diff, [len(model) // 2])
            self.assertEqual(body[len(model) // 2], model[len(model) // 2] ^ 0xFF)
        # a range that misses the flipped byte is clean; one that covers it is not
        _, _, head = self.stub.request("GET", self.resolve_url("model.safetensors"), headers={"Range": "bytes=0-99"})
        self.assertEqual(head, model[:100])
        mid = len(model) // 2
        _, _, part = self.stub.request("GET", self.resolve_url("model.safetensors"),
                                       headers={"Range": f"bytes={mid - 5}-{mid + 5}"})
        self.assertNotEqual(part, model[mid - 5:mid + 6])
        self.stub.control("/_stub/faults", {"clear": True})
        _, h, body = self.stub.request("GET", self.resolve_url("model.safetensors"))
        self.assertEqual(f'"{hashlib.sha256(body).hexdigest()}"', h["ETag"])

    def test_delay_fault_slows_bodies_down(self):
        self.stub.control("/_stub/faults", {"delay_ms_per_chunk": 50, "chunk_bytes": 100_000})
        self.assertEqual(self.stub.control("/_stub/faults")["delay_ms_per_chunk"], 50)
        started = time.monotonic()
        status, _, body = self.stub.request("GET", self.resolve_url("model.safetensors"),
                                            headers={"Range": "bytes=0-499999"})
        elapsed = time.monotonic() - started
        self.assertEqual((status, body), (206, self.content["model.safetensors"][:500000]))
        self.assertGreaterEqual(elapsed, 0.19)  # 5 chunks, 4 pauses
        # a client that gives up midway does not hurt the stub
        conn = self.stub.conn()
        conn.request("GET", self.resolve_url("model.safetensors"), headers={"Authorization": f"Bearer {TOKEN}"})
        resp = conn.getresponse()
        resp.read(150_000)
        conn.close()
        self.stub.control("/_stub/faults", {"clear": True})
        status, _, body = self.stub.request("GET", self.resolve_url("model.safetensors"))
        self.assertEqual((status, body), (200, self.content["model.safetensors"]))

    # --- request log, token, search ------------------------------------------------------------

    def test_request_log_records_ranges_but_never_the_token(self):
        self.stub.request("GET", self.resolve_url("model.safetensors"), headers={"Range": "bytes=10-20"})
        self.stub.request("HEAD", self.resolve_url("config.json"))
        self.stub.request("GET", f"/api/models/{REPO}/tree/main?recursive=true", token=False)
        log = self.stub.control("/_stub/requests")
        self.assertEqual(
            [(r["method"], r["path"], r["range"], r["authorized"]) for r in log],
            [
                ("GET", f"/{REPO}/resolve/main/model.safetensors", "bytes=10-20", True),
                ("HEAD", f"/{REPO}/resolve/main/config.json", None, True),
                ("GET", f"/api/models/{REPO}/tree/main", None, False),
            ],
        )
        self.assertEqual(log[2]["query"], "recursive=true")
        self.assertNotIn(TOKEN, json.dumps(log))
        self.stub.control("/_stub/requests/clear")
        self.assertEqual(self.stub.control("/_stub/requests"), [])

    def test_token_is_required_everywhere_but_the_control_routes(self):
        for method, path in [
            ("GET", "/api/models?search=qwen3"),
            ("GET", f"/api/models/{REPO}"),
            ("GET", f"/api/models/{REPO}/tree/main"),
            ("GET", self.resolve_url("config.json")),
            ("HEAD", self.resolve_url("config.json")),
        ]:
            status, _, body = self.stub.request(method, path, token=False)
            self.assertEqual(status, 401, (method, path))
            self.assertNotIn(TOKEN.encode(), body)
            status, _, _ = self.stub.request(method, path, headers={"Authorization": "Bearer wrong"}, token=False)
            self.assertEqual(status, 401, (method, path))

    def test_search_still_works_and_lists_served_repos(self):
        status, _, models = self.stub.json("/api/models?search=qwen3&library=mlx&sort=downloads&direction=-1")
        self.assertEqual(status, 200)
        self.assertEqual([m["id"] for m in models], ["mlx-community/Qwen3-0.6B-4bit", "mlx-community/Qwen3-8B-4bit", REPO])
        self.assertNotIn("siblings", models[0])
        status, _, models = self.stub.json("/api/models?search=tiny.model&expand[]=siblings&expand[]=usedStorage")
        self.assertEqual(models, [{"id": OTHER, "siblings": [{"rfilename": "config.json"}], "usedStorage": 2, "modelId": OTHER}])

    def test_keep_alive_over_many_requests(self):
        conn = self.stub.conn()
        try:
            for i in range(20):
                path = [self.resolve_url("config.json"), f"/api/models/{REPO}", f"/api/models/{REPO}/tree/main",
                        "/api/models/x/y"][i % 4]
                method = "HEAD" if i % 5 == 0 else "GET"
                status, _, _ = self.stub.request(method, path, conn=conn)
                self.assertIn(status, (200, 404))
        finally:
            conn.close()


class NoTokenTest(unittest.TestCase):
    def test_without_token_nothing_is_required(self):
        stub = Stub()
        try:
            status, _, data = stub.request("GET", "/api/models?author=Qwen", token=False)
            self.assertEqual((status, [m["id"] for m in json.loads(data)]), (200, ["Qwen/Qwen3-8B"]))
            log = stub.control("/_stub/requests")
            self.assertEqual(log[0]["authorized"], False)
        finally:
            stub.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
