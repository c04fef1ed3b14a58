#!/usr/bin/env python3
"""strait-mesh against recorded `kubectl -o json` output (tests/deploy/fixtures):
  openshift-a  OpenShift SDN: nodes without podCIDR, HostSubnets, network.config, one Windows
               node (not in the mesh), SR-IOV wire addresses as node annotations
  generic-b    a generic cluster: node.spec.podCIDR, pod CIDRs given on the command line
  ovnk-c       OpenShift 4.14 with OVN-Kubernetes, dual-stack: k8s.ovn.org/node-subnets in both
               forms (c-master-0 the older '{"default":"CIDR"}', the workers the list form),
               Network.config.openshift.io with two clusterNetwork entries. Representative
               shapes (written after the OVN-Kubernetes and OpenShift API docs and the
               annotations a 4.14 node carries), not captured from a live cluster.
Golden outputs in tests/deploy/golden; error cases by mutating copies of the fixtures.
Regenerate a golden only after reading its diff: STRAIT_UPDATE_GOLDEN=1."""

import copy
import io
import json
import os
import shutil
import sys
import subprocess
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "deploy", "mesh"))
import strait_mesh  # noqa: E402

FIX = os.path.join(HERE, "fixtures")
GOLDEN = os.path.join(HERE, "golden")
A = os.path.join(FIX, "openshift-a")
B = os.path.join(FIX, "generic-b")
C = os.path.join(FIX, "ovnk-c")


def cluster_a(**over):
    f = {"nodes": f"{A}/nodes.json", "services": f"{A}/services.json",
         "keys": f"{A}/public-keys.yaml", "hostsubnets": f"{A}/hostsubnets.json",
         "network": f"{A}/network.json"}
    f.update(over)
    return "a," + ",".join(f"{k}={v}" for k, v in f.items())


def cluster_b(**over):
    f = {"nodes": f"{B}/nodes.json", "services": f"{B}/services.json",
         "keys": f"{B}/public-keys.yaml", "pod-cidrs": "10.132.0.0/16"}
    f.update(over)
    return "b," + ",".join(f"{k}={v}" for k, v in f.items())


def cluster_c(**over):
    f = {"nodes": f"{C}/nodes.json", "services": f"{C}/services.json",
         "keys": f"{C}/public-keys.yaml", "network": f"{C}/network.json"}
    f.update(over)
    return "c," + ",".join(f"{k}={v}" for k, v in f.items())


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = strait_mesh.main(argv)
    return rc, out.getvalue(), err.getvalue()


def check_golden(test, name, text):
    path = os.path.join(GOLDEN, name)
    if os.environ.get("STRAIT_UPDATE_GOLDEN") == "1":
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    with open(path, encoding="utf-8") as f:
        test.assertEqual(f.read(), text, f"differs from golden {name}")


class Scratch:
    """A copy of a fixture JSON file that a test mutates."""

    def __init__(self, tmp, src, mutate):
        with open(src, encoding="utf-8") as f:
            doc = json.load(f)
        mutate(doc)
        self.path = os.path.join(tmp, os.path.basename(os.path.dirname(src)) + "-" +
                                 os.path.basename(src))
        with open(self.path, "w", encoding="utf-8") as f:
            json.dump(doc, f)


class ServicesTest(unittest.TestCase):
    def test_golden_openshift(self):
        rc, out, err = run(["services", "--nodes", f"{A}/nodes.json"])
        self.assertEqual(rc, 0, err)
        check_golden(self, "services-openshift-a.yaml", out)

    def test_golden_generic(self):
        rc, out, err = run(["services", "--nodes", f"{B}/nodes.json"])
        self.assertEqual(rc, 0, err)
        check_golden(self, "services-generic-b.yaml", out)

    def test_one_service_per_node_with_that_node_as_only_endpoint(self):
        for fixture in (A, B):
            with open(f"{fixture}/nodes.json", encoding="utf-8") as f:
                nodes = {n["metadata"]["name"]: n for n in json.load(f)["items"]
                         if n["metadata"]["labels"]["kubernetes.io/os"] == "linux"}
            rc, out, _ = run(["services", "--nodes", f"{fixture}/nodes.json"])
            self.assertEqual(rc, 0)
            docs = list(yaml.safe_load_all(out))
            services = [d for d in docs if d["kind"] == "Service"]
            slices = [d for d in docs if d["kind"] == "EndpointSlice"]
            self.assertEqual(sorted(s["metadata"]["annotations"]["strait.io/node"]
                                    for s in services), sorted(nodes))
            self.assertEqual(len({s["metadata"]["name"] for s in services}), len(services))
            for s in services:
                node = s["metadata"]["annotations"]["strait.io/node"]
                self.assertEqual(s["spec"]["type"], "LoadBalancer")
                self.assertNotIn("selector", s["spec"], "a selector would add other endpoints")
                self.assertEqual(s["spec"]["externalTrafficPolicy"], "Local")
                self.assertFalse(s["spec"]["allocateLoadBalancerNodePorts"])
                port = s["spec"]["ports"]
                self.assertEqual([(p["protocol"], p["port"], p["targetPort"]) for p in port],
                                 [("UDP", 51820, 51820)])
                mine = [e for e in slices if e["metadata"]["labels"]
                        ["kubernetes.io/service-name"] == s["metadata"]["name"]]
                self.assertEqual(len(mine), 1, node)
                eps = mine[0]["endpoints"]
                self.assertEqual(len(eps), 1, node)
                self.assertEqual(eps[0]["nodeName"], node)
                self.assertEqual(eps[0]["addresses"], [strait_mesh.node_wire_ip(nodes[node])])
                self.assertNotEqual(mine[0]["metadata"]["labels"]
                                    ["endpointslice.kubernetes.io/managed-by"],
                                    "endpointslice-controller.k8s.io")

    def test_windows_node_is_left_out(self):
        rc, out, _ = run(["services", "--nodes", f"{A}/nodes.json"])
        self.assertEqual(rc, 0)
        self.assertNotIn("a-win-0", out)

    def test_wire_ip_annotation_wins_and_feeds_node_config(self):
        _, out, _ = run(["services", "--nodes", f"{A}/nodes.json"])
        docs = list(yaml.safe_load_all(out))
        conf = [d for d in docs if d["kind"] == "ConfigMap"][0]
        self.assertEqual(conf["metadata"]["name"], "strait-node-config")
        self.assertEqual(conf["data"]["a-worker-0.ocp-a.example.com.conf"],
                         "wire-ip = 192.168.50.20\nwire-gateway-mac = 00:1c:73:aa:bb:01\n")
        self.assertNotIn("a-master-0.conf", conf["data"])

    def test_long_node_names_get_distinct_valid_names(self):
        a = strait_mesh.object_name("x" * 70 + ".one")
        b = strait_mesh.object_name("x" * 70 + ".two")
        self.assertNotEqual(a, b)
        for n in (a, b):
            self.assertLessEqual(len(n), 63)
            self.assertRegex(n, r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

    def test_node_without_address_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            s = Scratch(tmp, f"{B}/nodes.json",
                        lambda d: d["items"][1]["status"].update(addresses=[]))
            rc, _, err = run(["services", "--nodes", s.path])
        self.assertEqual(rc, 1)
        self.assertIn("node b-node-2: no InternalIP", err)


class SpecTest(unittest.TestCase):
    def spec(self, *clusters, extra=()):
        argv = ["spec"]
        for c in clusters:
            argv += ["--cluster", c]
        return run(argv + list(extra))

    def test_golden_two_clusters(self):
        rc, out, err = self.spec(cluster_a(), cluster_b(), extra=["--keepalive", "25"])
        self.assertEqual(rc, 0, err)
        check_golden(self, "spec-a-b.yaml", out)

    def test_reads_back_as_the_control_readme_format(self):
        _, out, _ = self.spec(cluster_a(), cluster_b())
        doc = yaml.safe_load(out)
        self.assertEqual(set(doc), {"clusters", "nodes"})
        self.assertEqual(doc["clusters"], [{"name": "a", "pod_cidrs": ["10.128.0.0/14"]},
                                           {"name": "b", "pod_cidrs": ["10.132.0.0/16"]}])
        by = {n["name"]: n for n in doc["nodes"]}
        self.assertEqual(set(by["b-node-1"]),
                         {"name", "cluster", "pod_subnets", "endpoint", "public_key", "straitd"})
        # HostSubnet for OpenShift SDN, spec.podCIDR for the generic cluster.
        self.assertEqual(by["a-worker-1.ocp-a.example.com"]["pod_subnets"], ["10.128.4.0/23"])
        self.assertEqual(by["b-node-2"]["pod_subnets"], ["10.132.1.0/24"])
        self.assertEqual(by["a-master-0"]["endpoint"], "203.0.113.10:51820")
        self.assertIs(by["b-cp-1"]["straitd"], True)
        self.assertNotIn("a-win-0", by)

    def test_configmap_wraps_the_same_text(self):
        _, plain, _ = self.spec(cluster_a(), cluster_b())
        _, wrapped, _ = self.spec(cluster_a(), cluster_b(), extra=["--configmap"])
        cm = yaml.safe_load(wrapped)
        self.assertEqual(cm["metadata"], {"name": "strait-mesh-spec", "namespace": "strait-system",
                                          "labels": {"app.kubernetes.io/part-of": "strait"}})
        self.assertEqual(cm["data"]["mesh.yaml"], plain)

    def test_overlapping_cluster_cidrs_are_refused_naming_both(self):
        rc, out, err = self.spec(cluster_a(), cluster_b(**{"pod-cidrs": "10.130.0.0/15"}))
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("cluster b: pod CIDR 10.130.0.0/15 overlaps 10.128.0.0/14 of cluster a", err)

    def test_missing_vip_names_node_and_cluster(self):
        with tempfile.TemporaryDirectory() as tmp:
            s = Scratch(tmp, f"{B}/services.json",
                        lambda d: d["items"][1].update(status={"loadBalancer": {}}))
            rc, out, err = self.spec(cluster_a(), cluster_b(services=s.path))
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("cluster b node b-node-2: missing VIP: Service strait-system/"
                      "strait-b-node-2 has no load-balancer address yet", err)
        self.assertEqual(err.count("missing VIP"), 1)

    def test_hostname_only_ingress_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            s = Scratch(tmp, f"{B}/services.json", lambda d: d["items"][0].update(
                status={"loadBalancer": {"ingress": [{"hostname": "lb-1.example.net"}]}}))
            rc, _, err = self.spec(cluster_b(services=s.path))
        self.assertEqual(rc, 1)
        self.assertIn("cluster b node b-node-1: missing VIP: Service strait-system/"
                      "strait-b-node-1 has only a hostname (lb-1.example.net)", err)

    def test_node_without_service(self):
        with tempfile.TemporaryDirectory() as tmp:
            s = Scratch(tmp, f"{B}/services.json", lambda d: d["items"].pop(2))
            rc, _, err = self.spec(cluster_b(services=s.path))
        self.assertEqual(rc, 1)
        self.assertIn("cluster b node b-cp-1: no Service for it", err)

    def test_every_problem_is_reported(self):
        def break_a(d):
            d["items"][0]["subnet"] = "10.128.2.0/24"   # overlaps a-worker-0's /23
            d["items"][2]["subnet"] = "10.140.0.0/23"   # outside 10.128.0.0/14
        with tempfile.TemporaryDirectory() as tmp:
            hs = Scratch(tmp, f"{A}/hostsubnets.json", break_a)
            keys = os.path.join(tmp, "keys.yaml")
            with open(keys, "w", encoding="utf-8") as f:
                f.write("b-node-1: AAAA\n")
            rc, _, err = self.spec(cluster_a(hostsubnets=hs.path), cluster_b(keys=keys))
        self.assertEqual(rc, 1)
        lines = err.strip().split("\n")
        self.assertIn("strait-mesh spec: cluster a node a-worker-0.ocp-a.example.com: pod subnet "
                      "10.128.2.0/23 overlaps 10.128.2.0/24 of node a-master-0", lines)
        self.assertIn("strait-mesh spec: cluster a node a-worker-1.ocp-a.example.com: pod subnet "
                      "10.140.0.0/23 is not inside the cluster's pod CIDRs (10.128.0.0/14)", lines)
        self.assertIn("strait-mesh spec: cluster b node b-cp-1: no public key: its straitd "
                      "publishes one when it starts (Node annotation strait.io/public-key)", lines)
        self.assertEqual(len(lines), 4, err)  # b-node-2's key is missing too

    def test_node_names_must_be_unique_across_clusters(self):
        with tempfile.TemporaryDirectory() as tmp:
            s = Scratch(tmp, f"{B}/nodes.json",
                        lambda d: d["items"][0]["metadata"].update(name="a-master-0"))
            rc, _, err = self.spec(cluster_a(), cluster_b(nodes=s.path))
        self.assertEqual(rc, 1)
        self.assertIn("cluster b node a-master-0: the name is also a node of cluster a", err)

    def test_no_pod_cidrs(self):
        rc, _, err = self.spec(cluster_b(**{"pod-cidrs": ""}))
        self.assertEqual(rc, 1)
        self.assertIn("cluster b: no pod CIDRs", err)

    def test_adding_a_node_is_one_rerun(self):
        new_key = "pPh5Yq0l6kPq8kzv1m3wX0rmN1BkfTMd6lcyHF2q1F0="

        def add_node(d):
            n = copy.deepcopy(d["items"][0])
            n["metadata"]["name"] = "b-node-3"
            n["spec"].update(podCIDR="10.132.3.0/24", podCIDRs=["10.132.3.0/24"])
            d["items"].append(n)

        def add_service(d):
            s = copy.deepcopy(d["items"][0])
            s["metadata"]["name"] = "strait-b-node-3"
            s["metadata"]["annotations"]["strait.io/node"] = "b-node-3"
            s["status"]["loadBalancer"]["ingress"] = [{"ip": "198.51.100.23"}]
            d["items"].append(s)
        with tempfile.TemporaryDirectory() as tmp:
            nodes = Scratch(tmp, f"{B}/nodes.json", add_node)
            rc, _, err = self.spec(cluster_a(), cluster_b(nodes=nodes.path))
            self.assertEqual(rc, 1)  # its VIP is not there yet: said so
            self.assertIn("cluster b node b-node-3: no Service", err)
            svcs = Scratch(tmp, f"{B}/services.json", add_service)
            keys = os.path.join(tmp, "keys.yaml")
            shutil.copy(f"{B}/public-keys.yaml", keys)
            with open(keys, "a", encoding="utf-8") as f:
                f.write(f"b-node-3: {new_key}\n")
            rc, out, err = self.spec(cluster_a(),
                                     cluster_b(nodes=nodes.path, services=svcs.path, keys=keys))
        self.assertEqual(rc, 0, err)
        by = {n["name"]: n for n in yaml.safe_load(out)["nodes"]}
        self.assertEqual(by["b-node-3"], {"name": "b-node-3", "cluster": "b",
                                          "pod_subnets": ["10.132.3.0/24"],
                                          "endpoint": "198.51.100.23:51820",
                                          "public_key": new_key, "straitd": True})
        self.assertEqual(len(by), 7)

    def test_ipv6_endpoint_is_bracketed_and_quoted(self):
        self.assertEqual(strait_mesh.format_endpoint("2001:db8::2", 51820), "[2001:db8::2]:51820")
        self.assertEqual(yaml.safe_load("e: " + strait_mesh.scalar("[2001:db8::2]:51820"))["e"],
                         "[2001:db8::2]:51820")
        for s in ("true", "no", "1234", "10.0.0.1:51820", "a: b", "x+y/z=", "node-1"):
            self.assertEqual(yaml.safe_load("e: " + strait_mesh.scalar(s))["e"], s, s)


class OvnKubernetesTest(unittest.TestCase):
    """Pod subnets from k8s.ovn.org/node-subnets, pod CIDRs from Network.config.openshift.io."""

    def spec(self, *clusters):
        argv = ["spec"]
        for c in clusters:
            argv += ["--cluster", c]
        return run(argv)

    def test_both_annotation_forms_and_dual_stack_cluster_network(self):
        rc, out, err = self.spec(cluster_c(), cluster_b())
        self.assertEqual(rc, 0, err)
        doc = yaml.safe_load(out)
        self.assertEqual(doc["clusters"][0], {"name": "c", "pod_cidrs": ["10.136.0.0/14",
                                                                         "fd01::/48"]})
        by = {n["name"]: n for n in doc["nodes"]}
        self.assertEqual(by["c-master-0"]["pod_subnets"], ["10.136.0.0/23"])  # string form
        self.assertEqual(by["c-worker-0"]["pod_subnets"],                      # list form
                         ["10.136.2.0/23", "fd01:0:0:1::/64"])
        self.assertEqual(by["c-worker-1"]["pod_subnets"], ["10.136.4.0/23", "fd01:0:0:2::/64"])
        check_golden(self, "spec-c-b.yaml", out)

    def test_parser_table(self):
        ok = [
            (1, '{"default":"10.244.0.0/24"}', ["10.244.0.0/24"]),
            (2, '{"default":["10.244.0.0/24","fd00:10:244::/64"]}',
             ["10.244.0.0/24", "fd00:10:244::/64"]),
            # secondary (user-defined) networks sit beside "default" and are not the pod network
            (3, '{"default":["10.244.1.0/24"],"tenant-blue":["10.200.1.0/24"]}',
             ["10.244.1.0/24"]),
        ]
        for number, text, want in ok:
            self.assertEqual(strait_mesh.ovn_node_subnets(text), want, number)
        bad = [
            (4, '{"default":"10.244.0.0/24"', "is not JSON"),
            (5, '["10.244.0.0/24"]', "is not a JSON object"),
            (6, '{"tenant-blue":"10.200.1.0/24"}', 'has no "default" network (has tenant-blue)'),
            (7, '{"default":[]}', "must be a CIDR or a non-empty list of CIDRs"),
            (8, '{"default":42}', "must be a CIDR or a non-empty list of CIDRs"),
            (9, '{"default":["10.244.0.0/24",null]}', "must be a CIDR or a non-empty list"),
        ]
        for number, text, want in bad:
            with self.assertRaises(ValueError, msg=number) as e:
                strait_mesh.ovn_node_subnets(text)
            self.assertIn(want, str(e.exception), number)

    def set_annotation(self, tmp, node, value):
        def edit(d):
            for n in d["items"]:
                if n["metadata"]["name"] == node:
                    n["metadata"]["annotations"]["k8s.ovn.org/node-subnets"] = value
        return Scratch(tmp, f"{C}/nodes.json", edit)

    def test_malformed_annotation_is_refused_naming_the_node(self):
        with tempfile.TemporaryDirectory() as tmp:
            nodes = self.set_annotation(tmp, "c-worker-1", '{"default":["10.136.4.0/23"')
            rc, out, err = self.spec(cluster_c(nodes=nodes.path), cluster_b())
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("cluster c node c-worker-1: annotation k8s.ovn.org/node-subnets is not "
                      "JSON", err)

    def test_bad_cidr_in_annotation_names_node_and_source(self):
        with tempfile.TemporaryDirectory() as tmp:
            nodes = self.set_annotation(tmp, "c-worker-0",
                                        '{"default":["10.136.2.1/23","fd01:0:0:1::/64"]}')
            rc, out, err = self.spec(cluster_c(nodes=nodes.path), cluster_b())
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("cluster c node c-worker-0: pod subnet '10.136.2.1/23' (from "
                      "k8s.ovn.org/node-subnets) is not a network", err)

    def test_subnet_outside_cluster_network_and_overlap_per_subnet(self):
        with tempfile.TemporaryDirectory() as tmp:
            nodes = self.set_annotation(tmp, "c-worker-1",
                                        '{"default":["10.140.4.0/23","fd01:0:0:1::/64"]}')
            rc, _, err = self.spec(cluster_c(nodes=nodes.path), cluster_b())
        self.assertEqual(rc, 1)
        self.assertIn("cluster c node c-worker-1: pod subnet 10.140.4.0/23 is not inside the "
                      "cluster's pod CIDRs (10.136.0.0/14, fd01::/48)", err)
        self.assertIn("cluster c node c-worker-1: pod subnet fd01:0:0:1::/64 overlaps "
                      "fd01:0:0:1::/64 of node c-worker-0", err)

    def test_pod_subnets_file_may_list_several_and_wins(self):
        with tempfile.TemporaryDirectory() as tmp:
            given = os.path.join(tmp, "subnets.yaml")
            with open(given, "w", encoding="utf-8") as f:
                f.write("c-worker-1: [10.136.6.0/24, 10.136.9.0/24]\n")
            rc, out, err = self.spec(cluster_c(**{"pod-subnets": given}), cluster_b())
        self.assertEqual(rc, 0, err)
        by = {n["name"]: n for n in yaml.safe_load(out)["nodes"]}
        self.assertEqual(by["c-worker-1"]["pod_subnets"], ["10.136.6.0/24", "10.136.9.0/24"])
        self.assertEqual(by["c-worker-0"]["pod_subnets"], ["10.136.2.0/23", "fd01:0:0:1::/64"])

    def test_spec_network_used_when_status_has_none(self):
        with tempfile.TemporaryDirectory() as tmp:
            net = Scratch(tmp, f"{C}/network.json", lambda d: d.pop("status"))
            rc, out, err = self.spec(cluster_c(network=net.path), cluster_b())
        self.assertEqual(rc, 0, err)
        self.assertEqual(yaml.safe_load(out)["clusters"][0]["pod_cidrs"],
                         ["10.136.0.0/14", "fd01::/48"])


@unittest.skipUnless(shutil.which("wg"), "wg not installed (apt-get install wireguard-tools)")
class NoPrivateKeysTest(unittest.TestCase):
    def test_no_command_makes_or_carries_a_private_key(self):
        # Keys are made on the nodes (straitd --create-private-key); `keys` is gone.
        with redirect_stderr(io.StringIO()), self.assertRaises(SystemExit) as e:
            strait_mesh.main(["keys", "--nodes", f"{B}/nodes.json"])
        self.assertEqual(e.exception.code, 2)



class VersionTest(unittest.TestCase):
    def test_same_version_and_commit_as_the_built_binaries(self):
        out = io.StringIO()
        with redirect_stdout(out), self.assertRaises(SystemExit) as e:
            strait_mesh.main(["--version"])
        self.assertEqual(e.exception.code, 0)
        mesh = out.getvalue().strip()
        self.assertRegex(mesh, r"^strait-mesh \d+\.\d+\.\d+ \(commit ([0-9a-f]{12}|unknown)\)$")
        agent = os.environ.get("STRAIT_AGENT")
        if not agent:
            self.skipTest("STRAIT_AGENT (the built strait-agent) not given")
        line = subprocess.run([agent, "--version"], capture_output=True, text=True,
                              check=True).stdout.strip()
        self.assertEqual(line.split(" ", 1)[1], mesh.split(" ", 1)[1])

    def test_without_git_the_commit_is_unknown(self):
        env_path = os.environ.get("PATH", "")
        os.environ["PATH"] = "/nonexistent"
        try:
            self.assertTrue(strait_mesh.version_text().endswith("(commit unknown)"))
        finally:
            os.environ["PATH"] = env_path


if __name__ == "__main__":
    unittest.main(verbosity=1)
