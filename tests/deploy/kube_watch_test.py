#!/usr/bin/env python3
"""deploy/mesh/kube_watch.py through the real Kubernetes client library (python3-kubernetes)
against API responses replayed by a local HTTP server: no API server runs here. The responses
(fixtures/kube_watch/) are in the API server's wire format, a NodeList and watch streams of
JSON lines, written for these cases, not captured from a live server:

  1. list, then watch: ADDED, MODIFIED, DELETED change the cache, BOOKMARK moves the version
  2. the connection drops mid-stream: the watch resumes from the last version, no new list
  3. an ERROR event with code 410 (version compacted): a new list replaces the cache
  4. a watch request answered 410 Gone: a new list too
  5. the controller's view of the cluster (nodes with their published keys) from the cache
"""

import http.server
import json
import os
import sys
import threading
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "deploy", "mesh"))
FIX = os.path.join(HERE, "fixtures", "kube_watch")

try:
    import kubernetes
except ImportError:  # meson: skipped
    print("SKIP: python3-kubernetes is not installed")
    sys.exit(77)

import controller  # noqa: E402
import kube_watch  # noqa: E402


def fixture(name):
    with open(os.path.join(FIX, name), "rb") as f:
        return f.read()


class Replay(http.server.BaseHTTPRequestHandler):
    """Answers /api/v1/nodes from a script: a list of (status, body) per kind of request."""
    protocol_version = "HTTP/1.1"
    script = {"list": [], "watch": []}
    requests = []

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        kind = "watch" if query.get("watch", [""])[0].lower() == "true" else "list"
        Replay.requests.append((kind, query.get("resourceVersion", [None])[0]))
        status, body = Replay.script[kind].pop(0) if Replay.script[kind] else (200, b"")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        # No Content-Length and Connection: close: the body ends where the stream is cut,
        # as when a watch connection drops.
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


class KubeWatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Replay)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        conf = kubernetes.client.Configuration()
        conf.host = f"http://127.0.0.1:{cls.server.server_address[1]}"
        cls.core = kubernetes.client.CoreV1Api(kubernetes.client.ApiClient(conf))

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()

    def setUp(self):
        Replay.requests = []
        Replay.script = {"list": [], "watch": []}
        self.inf = kube_watch.api_informer("nodes", self.core.list_node, timeout_seconds=5)

    def names(self):
        return sorted(self.inf.objects)

    def test_1_list_then_watch_events(self):
        Replay.script["list"] = [(200, fixture("nodes-list-1.json"))]
        Replay.script["watch"] = [(200, fixture("nodes-watch-1.jsonl"))]
        changes = []
        self.inf.step(on_change=lambda: changes.append(self.names()))
        self.assertEqual(changes[0], ["w1", "w2"])               # the list
        self.assertEqual(changes[1], ["w1", "w2", "w3"])         # ADDED w3
        self.assertEqual(self.names(), ["w1", "w3"])             # ... DELETED w2
        w3 = self.inf.objects["w3"]
        self.assertEqual(w3["metadata"]["annotations"]["strait.io/public-key"],
                         "4D9B8TbDUQmpKrAb7hR8e95Y2E8c8D3UQQDAkMrYTkc=")  # MODIFIED
        self.assertEqual(self.inf.resource_version, "1010")      # BOOKMARK
        self.assertEqual(Replay.requests, [("list", None), ("watch", "1000")])
        self.assertIsNone(self.inf.last_error)

    def test_2_dropped_connection_resumes_from_the_last_version(self):
        cut = fixture("nodes-watch-1.jsonl").splitlines(keepends=True)
        Replay.script["list"] = [(200, fixture("nodes-list-1.json"))]
        # The stream is cut after two events, in the middle of the third line.
        Replay.script["watch"] = [(200, b"".join(cut[:2]) + cut[2][:40]), (200, b"")]
        self.inf.step()
        self.assertEqual(self.names(), ["w1", "w2", "w3"])
        self.assertEqual(self.inf.resource_version, "1002")
        self.assertIn("JSONDecodeError", self.inf.last_error)    # the half line
        self.inf.step()
        self.assertEqual(Replay.requests, [("list", None), ("watch", "1000"), ("watch", "1002")])
        self.assertEqual(self.inf.relists, 1)                    # resumed, not listed again
        self.assertTrue(self.inf.synced)

    def test_3_error_410_event_forces_a_new_list(self):
        Replay.script["list"] = [(200, fixture("nodes-list-1.json")),
                                 (200, fixture("nodes-list-2.json"))]
        Replay.script["watch"] = [(200, fixture("nodes-watch-1.jsonl")),
                                  (200, fixture("nodes-watch-2.jsonl")), (200, b"")]
        self.inf.step()
        self.inf.step()
        self.assertFalse(self.inf.synced)
        self.assertIn("410 Gone", self.inf.last_error)
        self.assertEqual(self.names(), ["w1", "w3"])             # kept until the new list
        self.inf.step()
        self.assertEqual(self.names(), ["w3", "w4"])             # w1's deletion was compacted
        self.assertEqual(self.inf.resource_version, "1600")
        self.assertEqual(self.inf.relists, 2)
        self.assertEqual(Replay.requests, [("list", None), ("watch", "1000"), ("watch", "1010"),
                                           ("list", None), ("watch", "1600")])

    def test_4_watch_answered_410_forces_a_new_list(self):
        status = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                             "reason": "Expired", "code": 410,
                             "message": "too old resource version"}).encode()
        Replay.script["list"] = [(200, fixture("nodes-list-1.json")),
                                 (200, fixture("nodes-list-2.json"))]
        Replay.script["watch"] = [(410, status), (200, b"")]
        self.inf.step()
        self.assertFalse(self.inf.synced)
        self.inf.step()
        self.assertEqual(self.names(), ["w3", "w4"])
        self.assertEqual(self.inf.relists, 2)

    def test_5_the_controller_sees_published_keys_and_leaves_keyless_nodes_out(self):
        Replay.script["list"] = [(200, fixture("nodes-list-2.json"))]
        Replay.script["watch"] = [(200, b"")]
        self.inf.step()
        source = controller.KubeSource.__new__(controller.KubeSource)
        source.cluster, source.pod_cidrs, source.selector = "a", ["10.128.0.0/14"], {}
        svc = {"kind": "Service", "metadata": {"name": "strait-w3", "namespace": "strait-system",
               "annotations": {"strait.io/node": "w3"}}, "spec": {"ports": [{"port": 51820}]},
               "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.3"}]}}}
        services = kube_watch.Informer("services", None, None)
        services.objects, services.synced = {"strait-system/strait-w3": svc}, True
        source.informers = {"nodes": self.inf, "services": services}
        cluster, complete = source.read()
        self.assertTrue(complete)
        self.assertEqual(cluster.public_keys, {"w3": "4D9B8TbDUQmpKrAb7hR8e95Y2E8c8D3UQQDAkMrYTkc="})
        entry, nodes, problems = controller.own_records(cluster)
        self.assertEqual(list(nodes), ["w3"])
        self.assertEqual(nodes["w3"]["endpoint"], "198.51.100.3:51820")
        self.assertEqual(entry, {"name": "a", "pod_cidrs": ["10.128.0.0/14"]})
        self.assertTrue(any("node w4" in p and "no public key" in p for p in problems), problems)
        self.assertTrue(any("node w4" in p and "no Service" in p for p in problems), problems)


if __name__ == "__main__":
    unittest.main(verbosity=1)
