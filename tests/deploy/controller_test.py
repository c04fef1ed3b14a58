#!/usr/bin/env python3
"""deploy/mesh/controller.py without etcd: the merge of broker records (what is refused, named
and counted), the records of the own cluster, and the failure semantics of a round (broker
away: the last spec stays; restart: nothing rewritten; node gone: record deleted, but never
on a partial view). The broker here is a dict with etcd's revisions; the real etcd (TLS,
roles, a killed member, the whole broker away) is tests/system/lab_broker_test.sh.
"""

import copy
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "deploy", "mesh"))

import broker as brk  # noqa: E402
import controller as ctl  # noqa: E402
import mesh_ops  # noqa: E402
import node_services  # noqa: E402
import strait_mesh as sm  # noqa: E402

KEYS = {"a1": "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=",
        "a2": "2Pxs2mb03vquVPuIbrBwv6nz5tIlanHQg2AVQExCE1w=",
        "b1": "4D9B8TbDUQmpKrAb7hR8e95Y2E8c8D3UQQDAkMrYTkc=",
        "c1": "+xmUbNaEwVLPYUpTrdybmo/VqcZTR6gMU2nkZhjmQ08="}
NOW = 1_800_000_000.0


class MemoryBroker:
    """etcd's key space in a dict: create/mod revisions, and an `up` switch."""

    def __init__(self):
        self.kv, self.rev, self.up, self.puts, self.deletes = {}, 0, True, 0, 0

    def _check(self):
        if not self.up:
            raise brk.BrokerError("no broker member answered (test)")

    def read_all(self):
        self._check()
        return [brk.Entry(k, copy.deepcopy(v), c, m) for k, (v, c, m) in sorted(self.kv.items())]

    def put(self, key, value):
        self._check()
        self.rev += 1
        create = self.kv[key][1] if key in self.kv else self.rev
        self.kv[key] = (copy.deepcopy(value), create, self.rev)
        self.puts += 1

    def delete(self, key):
        self._check()
        self.kv.pop(key, None)
        self.deletes += 1


def node_entry(name, cluster, subnet, vip):
    return {"name": name, "cluster": cluster, "pod_subnet": subnet,
            "endpoint": f"{vip}:51820", "public_key": KEYS[name], "straitd": True}


def records(cluster, cidrs, nodes, heartbeat=NOW, schema=brk.SCHEMA):
    out = [(brk.info_key(cluster), {"schema": schema, "cluster": cluster, "cluster_id": cluster,
                                    "pod_cidrs": cidrs, "heartbeat": heartbeat})]
    for n in nodes:
        out.append((brk.node_key(cluster, n["name"]),
                    {"schema": schema, "cluster": cluster, "node": n, "updated": heartbeat}))
    return out


def entries(*groups):
    out, rev = [], 0
    for group in groups:
        for key, value in group:
            rev += 1
            out.append(brk.Entry(key, value, rev, rev))
    return out


A = records("a", ["10.128.0.0/14"], [node_entry("a1", "a", "10.128.0.0/23", "203.0.113.11"),
                                     node_entry("a2", "a", "10.128.2.0/23", "203.0.113.12")])
B = records("b", ["10.132.0.0/14"], [node_entry("b1", "b", "10.132.0.0/23", "203.0.113.21")])


class MergeTest(unittest.TestCase):
    def test_two_clusters_render_through_strait_mesh(self):
        spec, refusals = ctl.merge(entries(B, A), NOW, 3600)
        self.assertEqual(refusals, [])
        self.assertEqual([c["name"] for c in spec["clusters"]], ["a", "b"])
        self.assertEqual([n["name"] for n in spec["nodes"]], ["a1", "a2", "b1"])
        text = sm.render_spec_yaml(spec, None, "test")
        self.assertIn("  - name: b1\n    cluster: b\n    pod_subnets: [10.132.0.0/23]\n", text)

    def test_a_cluster_claiming_anothers_cidr_is_refused_and_named(self):
        thief = records("c", ["10.128.0.0/16"], [node_entry("c1", "c", "10.128.4.0/23", "198.51.100.1")])
        spec, refusals = ctl.merge(entries(A, B, thief), NOW, 3600)
        self.assertEqual([r.reason for r in refusals], ["cidr-conflict"])
        self.assertIn("cluster c: pod CIDR 10.128.0.0/16 overlaps 10.128.0.0/14 of cluster a, "
                      "which claimed it first: cluster c refused", refusals[0].text)
        self.assertNotIn("c1", [n["name"] for n in spec["nodes"]])
        # The first claimant wins whatever the names: c first, then a is refused.
        spec, refusals = ctl.merge(entries(thief, A, B), NOW, 3600)
        self.assertIn("cluster a: pod CIDR", refusals[0].text)
        self.assertEqual(sorted(c["name"] for c in spec["clusters"]), ["b", "c"])

    def test_stale_and_wrong_records_are_left_out_with_a_reason(self):
        old_b = records("b", ["10.132.0.0/14"], [], heartbeat=NOW - 7200)
        cases = [  # (records, reason)
            (old_b, "expired"),
            (records("c", ["10.140.0.0/14"], [], schema=2), "schema"),
            ([(brk.node_key("c", "x"), {"schema": 1, "cluster": "b", "node": {}})], "wrong-cluster"),
            ([(brk.node_key("c", "y"), "not an object")], "malformed"),
        ]
        for group, reason in cases:
            with self.subTest(reason=reason):
                _, refusals = ctl.merge(entries(A, group), NOW, 3600)
                self.assertEqual([r.reason for r in refusals], [reason])

    def test_a_node_name_or_key_used_twice_is_refused(self):
        twin = records("b", ["10.132.0.0/14"], [dict(node_entry("b1", "b", "10.132.0.0/23", "203.0.113.21"), name="a1")])
        twin[1] = (brk.node_key("b", "a1"), twin[1][1])
        spec, refusals = ctl.merge(entries(A, twin), NOW, 3600)
        self.assertEqual([r.reason for r in refusals], ["node-conflict"])
        same_key = records("b", ["10.132.0.0/14"], [dict(node_entry("b1", "b", "10.132.0.0/23", "203.0.113.21"), public_key=KEYS["a1"])])
        _, refusals = ctl.merge(entries(A, same_key), NOW, 3600)
        self.assertEqual([r.reason for r in refusals], ["key-conflict"])
        self.assertIn("public key is also node a1's", refusals[0].text)

    def test_a_node_subnet_outside_its_cluster_is_refused(self):
        bad = records("b", ["10.132.0.0/14"], [node_entry("b1", "b", "10.128.8.0/23", "203.0.113.21")])
        _, refusals = ctl.merge(entries(A, bad), NOW, 3600)
        self.assertEqual([r.reason for r in refusals], ["cidr-conflict"])
        self.assertIn("outside cluster b's pod CIDRs", refusals[0].text)


def inventory_cluster(nodes):
    c = sm.ClusterInput("a")
    c.pod_cidrs = ["10.128.0.0/14"]
    for name, subnet, vip, key in nodes:
        c.nodes.append({"metadata": {"name": name, "annotations": {ctl.PUBLIC_KEY_ANNOTATION: key} if key else {}},
                        "spec": {"podCIDR": subnet}, "status": {}})
        if vip:
            c.services.append({"metadata": {"name": f"strait-{name}", "annotations": {"strait.io/node": name}},
                               "spec": {"ports": [{"port": 51820}]},
                               "status": {"loadBalancer": {"ingress": [{"ip": vip}]}}})
    c.public_keys = ctl.public_keys_of(c.nodes)
    return c


class Source:
    def __init__(self, cluster, complete=True):
        self.cluster, self.complete = cluster, complete

    def read(self):
        return self.cluster, self.complete


class RoundTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.spec = os.path.join(self.tmp.name, "spec.yaml")
        self.broker = MemoryBroker()
        for key, value in B:
            self.broker.put(key, value)
        self.clock = [NOW]
        self.cluster = inventory_cluster([("a1", "10.128.0.0/23", "203.0.113.11", KEYS["a1"]),
                                          ("a2", "10.128.2.0/23", "203.0.113.12", KEYS["a2"])])

    def tearDown(self):
        self.tmp.cleanup()

    def controller(self, complete=True):
        return ctl.Controller("a", "id-a", Source(self.cluster, complete), self.broker,
                              ctl.FileTarget(self.spec), ttl=3600, heartbeat=60, interval=1,
                              max_backoff=8, clock=lambda: self.clock[0])

    def read_spec(self):
        with open(self.spec, encoding="utf-8") as f:
            return f.read()

    def test_publishes_and_renders_every_cluster(self):
        c = self.controller()
        self.assertEqual(c.round(), 1)
        self.assertEqual(c.broker_up, 1)
        text = self.read_spec()
        for name in ("a1", "a2", "b1"):
            self.assertIn(f"  - name: {name}\n", text)
        self.assertIn(brk.node_key("a", "a1"), self.broker.kv)

    def test_a_node_without_key_or_vip_waits_and_the_others_go_on(self):
        self.cluster = inventory_cluster([("a1", "10.128.0.0/23", "203.0.113.11", KEYS["a1"]),
                                          ("a3", "10.128.4.0/23", None, None)])
        c = self.controller()
        c.round()
        self.assertIn(brk.node_key("a", "a1"), self.broker.kv)
        self.assertNotIn(brk.node_key("a", "a3"), self.broker.kv)
        self.assertTrue(any("node a3" in p for p in c.problems), c.problems)
        self.assertIn("strait_controller_node_problems{cluster=\"a\"} 2", c.metrics())

    def test_broker_away_keeps_the_last_spec_and_backs_off(self):
        c = self.controller()
        c.round()
        before = self.read_spec()
        self.broker.up = False
        self.cluster.nodes.pop()  # a change that must wait for the broker
        waits = [c.round() for _ in range(5)]
        self.assertEqual(waits, [1, 2, 4, 8, 8])
        self.assertEqual(self.read_spec(), before)
        self.assertIn('strait_controller_broker_up{cluster="a"} 0', c.metrics())
        self.assertIn("last good spec kept", c.status()["error"])
        self.broker.up = True
        self.assertEqual(c.round(), 1)
        self.assertIn('strait_controller_broker_up{cluster="a"} 1', c.metrics())
        self.assertNotIn("  - name: a2\n", self.read_spec())

    def test_a_failing_spec_target_is_retried_not_fatal(self):
        class Refusing(ctl.FileTarget):
            def write(self, text):
                raise OSError(28, "No space left on device")
        c = ctl.Controller("a", "id-a", Source(self.cluster), self.broker, Refusing(self.spec),
                           interval=1, max_backoff=8, clock=lambda: self.clock[0])
        self.assertEqual([c.round(), c.round()], [1, 2])
        self.assertIn("No space left on device; last good spec kept", c.status()["error"])
        self.assertFalse(os.path.exists(self.spec))

    def test_a_restarted_controller_writes_nothing(self):
        self.controller().round()
        inode = os.stat(self.spec).st_ino
        puts = self.broker.puts
        self.clock[0] += 5
        again = self.controller()
        again.round()
        again.round()
        self.assertEqual(self.broker.puts, puts)          # same records, heartbeat still fresh
        self.assertEqual(again.spec_writes, 0)
        self.assertEqual(os.stat(self.spec).st_ino, inode)
        self.clock[0] += 61
        again.round()
        self.assertEqual(self.broker.puts, puts + 1)      # only the heartbeat

    def test_a_removed_node_is_deleted_but_never_on_a_partial_view(self):
        self.controller().round()
        self.cluster.nodes.pop()                          # a2 is gone from the cluster
        self.controller(complete=False).round()           # informers not synced yet
        self.assertIn(brk.node_key("a", "a2"), self.broker.kv)
        self.controller(complete=True).round()
        self.assertNotIn(brk.node_key("a", "a2"), self.broker.kv)
        self.assertNotIn("  - name: a2\n", self.read_spec())

    def test_two_clusters_under_one_name_are_refused(self):
        self.controller().round()
        other = ctl.Controller("a", "id-other", Source(self.cluster), self.broker,
                               ctl.FileTarget(self.spec), clock=lambda: NOW)
        other.round()
        self.assertEqual(other.broker_up, 0)
        self.assertIn("held by cluster id id-a", other.status()["error"])

    def test_refusals_are_counted_once_each(self):
        thief = records("c", ["10.128.0.0/16"], [node_entry("c1", "c", "10.128.4.0/23", "198.51.100.1")])
        c = self.controller()
        c.round()
        for key, value in thief:
            self.broker.put(key, value)
        c.round()
        c.round()
        self.assertIn('strait_controller_refused_total{cluster="a",reason="cidr-conflict"} 1',
                      c.metrics())


class ApiError(Exception):
    """What kubernetes.client.ApiException carries that the reconciler reads."""

    def __init__(self, status, reason):
        super().__init__(f"({status}) {reason}")
        self.status, self.reason = status, reason


class FakeApi:
    """CoreV1Api's and DiscoveryV1Api's create/delete calls for Services and EndpointSlices,
    recorded in order; `fail[(verb, kind, name)]` makes that call raise."""

    def __init__(self):
        self.calls, self.fail = [], {}

    def _do(self, verb, kind, name, namespace):
        self.calls.append((verb, kind, name, namespace))
        err = self.fail.get((verb, kind, name))
        if err:
            raise err

    def create_namespaced_service(self, namespace, body):
        self.last_service = body
        self._do("create", "Service", body["metadata"]["name"], namespace)

    def create_namespaced_endpoint_slice(self, namespace, body):
        self.last_slice = body
        self._do("create", "EndpointSlice", body["metadata"]["name"], namespace)

    def delete_namespaced_service(self, name, namespace):
        self._do("delete", "Service", name, namespace)

    def delete_namespaced_endpoint_slice(self, name, namespace):
        self._do("delete", "EndpointSlice", name, namespace)

    def patch_namespaced_endpoint_slice(self, name, namespace, body):
        self.last_slice = body
        self._do("patch", "EndpointSlice", name, namespace)


def k8s_node(name, ip):
    return {"metadata": {"name": name, "annotations": {}},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}] if ip else []}}


def vip_service(node, ours=True):
    labels = {"app.kubernetes.io/part-of": "strait"} if ours else {}
    return {"metadata": {"name": f"strait-{node}", "labels": labels,
                         "annotations": {"strait.io/node": node}}}


class ServiceReconcilerTest(unittest.TestCase):
    def setUp(self):
        self.api = FakeApi()
        self.r = node_services.ServiceReconciler(self.api, self.api, 51820)

    def test_a_new_node_gets_its_endpointslice_then_its_service(self):
        problems = self.r.reconcile([k8s_node("a1", "192.0.2.1"), k8s_node("a3", "192.0.2.3")],
                                    [vip_service("a1")], complete=True)
        self.assertEqual(problems, [])
        self.assertEqual(self.api.calls, [("create", "EndpointSlice", "strait-a3", sm.NAMESPACE),
                                          ("create", "Service", "strait-a3", sm.NAMESPACE)])
        svc, eps = self.api.last_service, self.api.last_slice
        self.assertEqual(svc["spec"]["type"], "LoadBalancer")
        self.assertNotIn("selector", svc["spec"])
        self.assertEqual(svc["metadata"]["labels"]["app.kubernetes.io/part-of"], "strait")
        self.assertEqual(svc["metadata"]["annotations"], {"strait.io/node": "a3"})
        self.assertEqual(svc["spec"]["ports"][0]["port"], 51820)
        self.assertEqual(eps["endpoints"], [{"addresses": ["192.0.2.3"], "nodeName": "a3",
                                             "conditions": {"ready": True}}])
        self.assertEqual(self.r.created, 1)

    def test_a_departed_nodes_vip_goes_only_on_a_complete_view_and_only_if_ours(self):
        services = [vip_service("a1"), vip_service("gone"), vip_service("by-hand", ours=False)]
        nodes = [k8s_node("a1", "192.0.2.1")]
        self.assertEqual(self.r.reconcile(nodes, services, complete=False), [])
        self.assertEqual(self.api.calls, [])  # a partial list never looks like nodes that left
        self.assertEqual(self.r.reconcile(nodes, services, complete=True), [])
        self.assertEqual(self.api.calls, [("delete", "Service", "strait-gone", sm.NAMESPACE),
                                          ("delete", "EndpointSlice", "strait-gone", sm.NAMESPACE)])
        self.assertEqual(self.r.deleted, 1)

    def test_api_refusals_are_named_per_node_and_the_others_go_on(self):
        self.api.fail[("create", "EndpointSlice", "strait-a2")] = ApiError(409, "AlreadyExists")
        self.api.fail[("create", "EndpointSlice", "strait-a3")] = ApiError(403, "Forbidden")
        self.api.fail[("delete", "Service", "strait-old")] = ApiError(404, "NotFound")
        problems = self.r.reconcile(
            [k8s_node("a2", "192.0.2.2"), k8s_node("a3", "192.0.2.3"), k8s_node("a4", None),
             k8s_node("a5", "192.0.2.5")], [vip_service("old")], complete=True)
        self.assertEqual(len(problems), 2, problems)
        self.assertIn("VIP for node a3: cannot create Service strait-system/strait-a3: "
                      "HTTP 403 Forbidden", problems)
        self.assertTrue(any(p.startswith("VIP for node a4: node a4: no InternalIP")
                            for p in problems), problems)
        created = [c[2] for c in self.api.calls if c[:2] == ("create", "Service")]
        self.assertEqual(created, ["strait-a2", "strait-a5"])  # 409: it exists; a5 still made
        # The EndpointSlice that existed for a2 (its Service deleted by hand) is rewritten with
        # a2's address now, not left naming an old one.
        self.assertIn(("patch", "EndpointSlice", "strait-a2", sm.NAMESPACE), self.api.calls)
        self.assertIn(("delete", "EndpointSlice", "strait-old", sm.NAMESPACE), self.api.calls)

    def test_the_controller_makes_vips_even_with_the_broker_away_and_reports_them(self):
        cluster = sm.ClusterInput("a")
        cluster.pod_cidrs = ["10.128.0.0/14"]
        cluster.nodes = [k8s_node("a1", "192.0.2.1")]
        self.api.fail[("create", "Service", "strait-a1")] = ApiError(403, "Forbidden")
        broker = MemoryBroker()
        broker.up = False
        with tempfile.TemporaryDirectory() as tmp:
            c = ctl.Controller("a", "id-a", Source(cluster), broker,
                               ctl.FileTarget(os.path.join(tmp, "spec.yaml")), interval=1,
                               clock=lambda: NOW, services=self.r)
            c.round()
        self.assertEqual(c.broker_up, 0)
        self.assertEqual(self.api.calls[-1], ("create", "Service", "strait-a1", sm.NAMESPACE))
        self.assertEqual(len(c.status()["service_problems"]), 1)
        self.assertIn('strait_controller_vip_problems{cluster="a"} 1', c.metrics())
        self.assertIn('strait_controller_vip_services_created_total{cluster="a"} 0', c.metrics())


class FakeEtcd:
    """One member's client as broker.py uses it: get_prefix and put, failing while its member
    is in `down`, and whether it was closed."""

    def __init__(self, endpoint, log, down):
        self.endpoint, self.log, self.down, self.closed = endpoint, log, down, False

    def _check(self):
        self.log.append(self.endpoint)
        if self.endpoint in self.down:
            raise ConnectionError(f"{self.endpoint} is down")

    def get_prefix(self, prefix):
        self._check()
        return []

    def put(self, key, value):
        self._check()

    def close(self):
        self.closed = True


class BrokerFailoverTest(unittest.TestCase):
    def setUp(self):
        self.log, self.down, self.made = [], set(), []

        def connect(endpoint, ca, cert, key, timeout):
            self.made.append(FakeEtcd(endpoint, self.log, self.down))
            return self.made[-1]
        self.broker = brk.Broker(["m1:1", "m2:2", "m3:3"], "ca", "cert", "key", connect=connect)

    def test_a_dead_member_costs_one_try_and_its_client_is_replaced(self):
        self.assertEqual(self.broker.read_all(), [])
        self.down.add("m1:1")
        self.assertEqual(self.broker.read_all(), [])
        self.assertEqual(self.log, ["m1:1", "m1:1", "m2:2"])  # then it stays on m2
        self.broker.put("k", {"v": 1})
        self.assertEqual(self.log[-1], "m2:2")
        self.assertEqual([(c.endpoint, c.closed) for c in self.made],
                         [("m1:1", True), ("m2:2", False)])

    def test_every_member_down_names_each_and_a_returning_broker_is_used_again(self):
        self.down.update({"m1:1", "m2:2", "m3:3"})
        with self.assertRaises(brk.BrokerError) as e:
            self.broker.read_all()
        for m in ("m1:1", "m2:2", "m3:3"):
            self.assertIn(f"{m}: ConnectionError", str(e.exception))
        self.assertTrue(all(c.closed for c in self.made))
        self.down.clear()
        self.assertEqual(self.broker.read_all(), [])
        self.assertFalse(self.made[-1].closed)


class AgentStateTest(unittest.TestCase):
    """status --agent against a local HTTP server answering as strait-agent does."""

    def serve(self, healthz_code, metrics):
        import http.server
        import threading

        class Agent(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                code, body = (healthz_code, b"ok\n") if self.path == "/healthz" else (200, metrics)
                self.send_response(code)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Agent)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.shutdown)
        return f"http://127.0.0.1:{server.server_address[1]}"

    def test_ready_and_not_ready(self):
        metrics = b"strait_agent_spec_generation 7\nstrait_agent_spec_rejected_total 2\n"
        self.assertEqual(mesh_ops.agent_state("a1", self.serve(200, metrics)),
                         "agent a1: ready, spec generation 7, specs rejected 2")
        self.assertIn("agent a2: NOT READY (503)",
                      mesh_ops.agent_state("a2", self.serve(503, metrics)))
        self.assertIn("agent a3: UNREACHABLE", mesh_ops.agent_state("a3", "http://127.0.0.1:1"))


class DiagnoseTest(unittest.TestCase):
    def test_findings(self):
        spec, refusals = ctl.merge(entries(A, B), NOW, 3600)
        infos = {"b": brk.Entry(brk.info_key("b"), {"heartbeat": NOW + 120}, 1, 1)}
        peers = {"strait-a1": [[KEYS["b1"], "(none)", "203.0.113.21:51820", "10.132.0.0/23", "0", "0", "0", "off"]]}
        out = mesh_ops.diagnose_findings(spec, refusals, infos, NOW, peers,
                                         {"strait-a1": (1480, 1500)})
        self.assertTrue(any(f.startswith("clock skew: cluster b") for f in out), out)
        self.assertTrue(any("peer b/b1: no handshake ever: its VIP 203.0.113.21:51820" in f
                            for f in out), out)
        self.assertTrue(any(f.startswith("mtu: strait-a1: tunnel MTU 1480") for f in out), out)
        cni = mesh_ops.unsupported_cni([{"metadata": {"name": "w1"}, "spec": {}}])
        self.assertIn("cni: node w1: no spec.podCIDR", cni[0])


if __name__ == "__main__":
    unittest.main(verbosity=1)
