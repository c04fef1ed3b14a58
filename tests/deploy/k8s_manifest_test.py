#!/usr/bin/env python3
"""Renders every kustomization under deploy/k8s/overlays (and the base) with
`kubectl kustomize` and checks what a cluster would be given: Guaranteed QoS with whole CPUs
for straitd, hugepages requests = limits on a HugePages emptyDir, exactly the capabilities
and API tokens that deploy/README.md's tables document, httpGet probes only, volumes and
mounts that match, the node key (made on the node, never in a manifest) and NODE_NAME wiring,
key-publisher's and the controller's RBAC, the OpenShift SCC and its `use` grant, monitoring,
the SR-IOV, AF_XDP and OpenShift performance wiring.
Exits 77 (skipped) without kubectl (its built-in kustomize is what renders)."""

import json
import os
import re
import shutil
import subprocess
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
K8S = os.path.join(ROOT, "deploy", "k8s")
README = os.path.join(ROOT, "deploy", "README.md")
ENTRYPOINTS = os.path.join(ROOT, "deploy", "image", "entrypoints")
KUSTOMIZATIONS = ["base"] + sorted("overlays/" + d for d in os.listdir(os.path.join(K8S, "overlays")))


def render(kustomization):
    out = subprocess.run(["kubectl", "kustomize", os.path.join(K8S, kustomization)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError(f"kubectl kustomize {kustomization}: {out.stderr}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def documented_capabilities():
    """{(kustomization, container): [caps]} from the table between the markers in README."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"<!-- capabilities -->(.*?)<!-- /capabilities -->", text, re.S)
    assert m, "deploy/README.md has no <!-- capabilities --> table"
    table = {}
    for line in m.group(1).splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or cells[0] in ("kustomization", "") or set(cells[0]) <= {"-", ":"}:
            continue
        caps = [c.strip("` ") for c in cells[2].split(",") if c.strip("` ") not in ("", "none")]
        table[(cells[0], cells[1])] = caps
    return table


def documented_api_tokens():
    """{(kustomization, container): volume} from the API tokens table in README."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"<!-- api-tokens -->(.*?)<!-- /api-tokens -->", text, re.S)
    assert m, "deploy/README.md has no <!-- api-tokens --> table"
    table = {}
    for line in m.group(1).splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or cells[0] in ("kustomization", "") or set(cells[0]) <= {"-", ":"}:
            continue
        table[(cells[0], cells[1])] = cells[2]
    return table


def metric_names_in_source():
    """Every series name straitd and strait-agent export (string literals in their collectors)."""
    names = set()
    for path in ("control/metrics.cpp", "dataplane/straitd/dataplane_metrics.cpp"):
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            names |= set(re.findall(r'"(strait_[a-z_]+)"', f.read()))
    # strait_controller_broker_up: the per-cluster controller's (deploy/mesh), not a pod's.
    return names | {"strait_controller_broker_up"}


def metric_names_in_expr(expr):
    return set(re.findall(r"\b(strait_[a-z_]+)\b", expr))


OPENSHIFT_PROXIES = ["kube-rbac-proxy-straitd", "kube-rbac-proxy-agent"]


def cpu_whole(q):
    return re.fullmatch(r"[1-9][0-9]*", str(q)) is not None


class Rendered:
    def __init__(self, name):
        self.name = name
        self.docs = render(name)

    def of_kind(self, kind):
        return [d for d in self.docs if d["kind"] == kind]

    def one(self, kind):
        found = self.of_kind(kind)
        assert len(found) == 1, f"{self.name}: {len(found)} {kind}"
        return found[0]

    @property
    def pod(self):
        return self.one("DaemonSet")["spec"]["template"]["spec"]

    def container(self, name):
        return [c for c in self.pod["containers"] if c["name"] == name][0]


@unittest.skipUnless(shutil.which("kubectl"), "kubectl not found: its built-in kustomize renders "
                     "deploy/k8s (kubectl ships in google-cloud-cli, or install kubectl)")
class ManifestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rendered = {k: Rendered(k) for k in KUSTOMIZATIONS}
        cls.caps = documented_capabilities()

    def test_every_kustomization_is_documented(self):
        self.assertEqual({k for k, _ in self.caps}, set(KUSTOMIZATIONS))

    def test_daemonset_basics(self):
        for name, r in self.rendered.items():
            with self.subTest(kustomization=name):
                ds = r.one("DaemonSet")
                self.assertEqual(ds["metadata"]["namespace"], "strait-system")
                self.assertEqual(ds["spec"]["updateStrategy"],
                                 {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}})
                pod = r.pod
                self.assertEqual(pod["priorityClassName"], "system-node-critical")
                self.assertTrue(pod["hostNetwork"])
                self.assertEqual(pod["serviceAccountName"], "strait")
                self.assertFalse(pod["automountServiceAccountToken"])
                # The proxies (a strategic-merge patch) land before key-publisher.
                expected = ["straitd", "strait-agent"]
                if name.startswith("overlays/openshift"):
                    expected += OPENSHIFT_PROXIES
                expected += ["key-publisher"]
                self.assertEqual([c["name"] for c in pod["containers"]], expected)
                self.assertEqual(sorted(sa["metadata"]["name"] for sa in r.of_kind("ServiceAccount")),
                                 ["strait", "strait-controller"])

    def test_guaranteed_qos_whole_cpus_for_straitd(self):
        for name, r in self.rendered.items():
            with self.subTest(kustomization=name):
                for c in r.pod["containers"]:
                    res = c["resources"]
                    self.assertEqual(res["requests"], res["limits"], c["name"])
                    self.assertIn("cpu", res["limits"], c["name"])
                    self.assertIn("memory", res["limits"], c["name"])
                straitd = r.container("straitd")["resources"]["limits"]
                self.assertTrue(cpu_whole(straitd["cpu"]), straitd["cpu"])
                self.assertGreaterEqual(int(straitd["cpu"]), 2, "slow path + at least one worker")
                pages = [k for k in straitd if k.startswith("hugepages-")]
                self.assertEqual(len(pages), 1, straitd)
                self.assertIn(pages[0], ("hugepages-2Mi", "hugepages-1Gi"))

    def test_hugepages_volume(self):
        for name, r in self.rendered.items():
            with self.subTest(kustomization=name):
                vols = {v["name"]: v for v in r.pod["volumes"]}
                limits = r.container("straitd")["resources"]["limits"]
                # The mount's page size is the one requested (the kubelet refuses a mismatch).
                medium = "HugePages-1Gi" if "hugepages-1Gi" in limits else "HugePages"
                self.assertEqual(vols["hugepages"]["emptyDir"], {"medium": medium})
                mounts = {m["name"]: m["mountPath"] for m in r.container("straitd")["volumeMounts"]}
                self.assertEqual(mounts["hugepages"], "/dev/hugepages")

    def test_capabilities_exactly_as_documented(self):
        for name, r in self.rendered.items():
            with self.subTest(kustomization=name):
                for c in r.pod["containers"]:
                    sc = c["securityContext"]
                    self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
                    self.assertFalse(sc["privileged"])
                    self.assertFalse(sc["allowPrivilegeEscalation"])
                    self.assertEqual(sorted(sc["capabilities"]["add"]),
                                     sorted(self.caps[(name, c["name"])]),
                                     f"{name} {c['name']}: deploy/README.md's table says otherwise")

    def test_probes_are_http_and_fit_the_server(self):
        for name, r in self.rendered.items():
            with self.subTest(kustomization=name):
                openshift = name.startswith("overlays/openshift")
                for c in r.pod["containers"]:
                    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                        self.assertNotIn("exec", c.get(probe, {}),
                                         f"{c['name']}: exec probes run on the pinned CPUs")
                for cname in ("straitd", "strait-agent"):
                    c = r.container(cname)
                    self.assertIn("--metrics-listen=$(METRICS_LISTEN)", c["args"], cname)
                    env = {e["name"]: e for e in c["env"]}
                    listen = env["METRICS_LISTEN"]["value"]
                    host, port = listen.rsplit(":", 1)
                    if openshift:
                        # Loopback only; the proxy in front serves TLS on the node's address and
                        # lets /healthz through without a token.
                        self.assertEqual(host, "127.0.0.1", cname)
                        proxy = r.container("kube-rbac-proxy-straitd" if cname == "straitd"
                                            else "kube-rbac-proxy-agent")
                        pargs = dict(a[2:].split("=", 1) for a in proxy["args"])
                        self.assertEqual(pargs["upstream"], f"http://{listen}/")
                        self.assertIn("/healthz", pargs["ignore-paths"].split(","))
                        probe_port = int(pargs["secure-listen-address"].rsplit(":", 1)[1])
                        self.assertEqual(pargs["secure-listen-address"], f"$(POD_IP):{probe_port}")
                        scheme = "HTTPS"
                        self.assertNotIn("ports", c, f"{cname}: its port is the proxy's")
                    else:
                        self.assertEqual(host, "$(POD_IP)", cname)
                        probe_port = int(port)
                        scheme = None
                        self.assertIn(probe_port, [p["containerPort"] for p in c["ports"]])
                    for probe in ("readinessProbe", "livenessProbe"):
                        p = c[probe]
                        expected = {"path": "/healthz", "port": probe_port}
                        if scheme:
                            expected["scheme"] = scheme
                        self.assertEqual(p["httpGet"], expected, f"{cname} {probe}")
                        # The server drops a request after 2 s and straitd's check waits at most
                        # 1 s for the slow path: 3 s always gets an answer, within the period.
                        self.assertGreaterEqual(p["timeoutSeconds"], 3, f"{cname} {probe}")
                        self.assertLess(p["timeoutSeconds"], p["periodSeconds"], f"{cname} {probe}")
                args = " ".join(r.container("straitd")["args"])
                self.assertIn("--private-key-file=/var/lib/strait/private/node.key "
                              "--create-private-key "
                              "--public-key-file=/var/lib/strait/public/node.pub", args)

    def test_volumes_and_mounts_match(self):
        for name, r in self.rendered.items():
            with self.subTest(kustomization=name):
                vols = {v["name"] for v in r.pod["volumes"]}
                mounted = set()
                for c in r.pod["containers"]:
                    for m in c["volumeMounts"]:
                        self.assertIn(m["name"], vols, f"{c['name']} mounts a missing volume")
                        mounted.add(m["name"])
                self.assertEqual(vols, mounted, "a volume nobody mounts")

    def test_shared_socket_keys_spec_ovs(self):
        for name, r in self.rendered.items():
            with self.subTest(kustomization=name):
                vols = {v["name"]: v for v in r.pod["volumes"]}
                m = {c["name"]: {v["name"]: v["mountPath"] for v in c["volumeMounts"]}
                     for c in r.pod["containers"]}
                self.assertEqual(m["straitd"]["wireguard-run"], "/var/run/wireguard")
                self.assertEqual(m["strait-agent"]["wireguard-run"], "/var/run/wireguard")
                self.assertEqual(vols["node-private-key"]["hostPath"],
                                 {"path": "/var/lib/strait/private", "type": "DirectoryOrCreate"})
                self.assertEqual(m["straitd"]["node-private-key"], "/var/lib/strait/private")
                for other in ("strait-agent", "key-publisher"):
                    self.assertNotIn("node-private-key", m[other], f"{other} holds no private key")
                self.assertEqual(m["key-publisher"]["node-public-key"], "/var/lib/strait/public")
                self.assertEqual(vols["mesh-spec"]["configMap"]["name"], "strait-mesh-spec")
                self.assertIn("--spec=/etc/strait/mesh/mesh.yaml", r.container("strait-agent")["args"])
                self.assertEqual(m["strait-agent"]["ovs-run"], "/var/run/openvswitch")
                self.assertEqual(vols["ovs-run"]["hostPath"]["path"], "/var/run/openvswitch")

    def test_node_name_from_downward_api(self):
        for name, r in self.rendered.items():
            with self.subTest(kustomization=name):
                for c in r.pod["containers"]:
                    env = {e["name"]: e for e in c["env"]}
                    self.assertEqual(env["NODE_NAME"]["valueFrom"],
                                     {"fieldRef": {"fieldPath": "spec.nodeName"}}, c["name"])

    def test_entrypoints_exist(self):
        for name, r in self.rendered.items():
            with self.subTest(kustomization=name):
                for c in r.pod["containers"]:
                    if c["name"] in OPENSHIFT_PROXIES:
                        continue  # the platform's image and its own entrypoint
                    path = c["command"][0]
                    self.assertTrue(path.startswith("/usr/lib/strait/"))
                    self.assertTrue(os.access(os.path.join(ENTRYPOINTS, os.path.basename(path)),
                                              os.X_OK), path)

    def test_no_private_key_in_any_manifest(self):
        for name, r in self.rendered.items():
            with self.subTest(kustomization=name):
                self.assertEqual(r.of_kind("Secret"), [], "the manifests carry no Secret")
                # The one Secret a node pod mounts: on OpenShift, the proxies' serving
                # certificate (made by the service CA), mounted by the proxies alone.
                secrets = {v["name"]: v["secret"]["secretName"] for v in r.pod["volumes"]
                           if "secret" in v}
                if name.startswith("overlays/openshift"):
                    self.assertEqual(secrets, {"metrics-tls": "strait-metrics-tls"})
                else:
                    self.assertEqual(secrets, {})
                for c in r.pod["containers"]:
                    mounts = {m["name"] for m in c["volumeMounts"]}
                    self.assertEqual(bool(mounts & set(secrets)), c["name"] in OPENSHIFT_PROXIES,
                                     c["name"])

    def test_api_tokens_exactly_as_documented(self):
        documented = documented_api_tokens()
        self.assertEqual({k for k, _ in documented}, set(KUSTOMIZATIONS))
        for name, r in self.rendered.items():
            with self.subTest(kustomization=name):
                # No token is automounted; each one is a projected volume mounted by one
                # container at the standard path, and only where README's table says.
                self.assertFalse(r.pod["automountServiceAccountToken"])
                token_vols = {v["name"] for v in r.pod["volumes"]
                              if any("serviceAccountToken" in src
                                     for src in v.get("projected", {}).get("sources", []))}
                holders = {}
                for c in r.pod["containers"]:
                    for m in c["volumeMounts"]:
                        if m["name"] in token_vols:
                            self.assertEqual(m["mountPath"],
                                             "/var/run/secrets/kubernetes.io/serviceaccount")
                            self.assertTrue(m.get("readOnly"), c["name"])
                            self.assertNotIn(c["name"], holders, "one token per container")
                            holders[c["name"]] = m["name"]
                self.assertEqual(holders, {c: v for (k, c), v in documented.items() if k == name},
                                 "deploy/README.md's API tokens table says otherwise")
                self.assertEqual(len(token_vols), len(set(holders.values())), "an unmounted token")
                for c in ("straitd", "strait-agent"):
                    self.assertNotIn(c, holders, f"{c} gets no API token")
                self.assertEqual(holders["key-publisher"], "api-token")
                if name.startswith("overlays/openshift"):
                    for proxy in OPENSHIFT_PROXIES:
                        self.assertEqual(holders[proxy], "kube-api-access")
                pub = r.container("key-publisher")
                self.assertTrue(all(m.get("readOnly") for m in pub["volumeMounts"]))
                self.assertTrue(pub["securityContext"]["runAsNonRoot"])

    def rules(self, r, kind, name):
        found = [x for x in r.of_kind(kind) if x["metadata"]["name"] == name]
        self.assertEqual(len(found), 1, f"{kind} {name}")
        return found[0]["rules"]

    def bound_to(self, r, kind, role):
        return [s for b in r.of_kind(kind) if b["roleRef"]["name"] == role for s in b["subjects"]]

    def test_key_publisher_may_patch_only_its_own_node_annotation(self):
        for name, r in self.rendered.items():
            with self.subTest(kustomization=name):
                self.assertEqual(self.rules(r, "ClusterRole", "strait-key-publisher"),
                                 [{"apiGroups": [""], "resources": ["nodes"],
                                   "verbs": ["get", "patch"]}])
                self.assertEqual(self.bound_to(r, "ClusterRoleBinding", "strait-key-publisher"),
                                 [{"kind": "ServiceAccount", "name": "strait",
                                   "namespace": "strait-system"}])
                policy = r.one("ValidatingAdmissionPolicy")
                text = yaml.safe_dump(policy["spec"])
                self.assertIn("authentication.kubernetes.io/node-name", text)
                self.assertIn("strait.io/public-key", text)
                self.assertEqual(policy["spec"]["failurePolicy"], "Fail")
                binding = r.one("ValidatingAdmissionPolicyBinding")
                self.assertEqual((binding["spec"]["policyName"], binding["spec"]["validationActions"]),
                                 ("strait-key-publisher", ["Deny"]))

    def test_controller_rbac_is_least_privilege(self):
        for name, r in self.rendered.items():
            with self.subTest(kustomization=name):
                self.assertEqual(self.rules(r, "ClusterRole", "strait-controller"), [
                    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
                    {"apiGroups": [""], "resources": ["namespaces"],
                     "resourceNames": ["kube-system"], "verbs": ["get"]}])
                self.assertEqual(self.rules(r, "Role", "strait-controller"), [
                    {"apiGroups": [""], "resources": ["services"],
                     "verbs": ["get", "list", "watch", "create", "delete"]},
                    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
                     "verbs": ["create", "patch", "delete"]},
                    {"apiGroups": [""], "resources": ["configmaps"],
                     "resourceNames": ["strait-mesh-spec"], "verbs": ["get", "patch"]}])
                for kind in ("ClusterRoleBinding", "RoleBinding"):
                    self.assertEqual(self.bound_to(r, kind, "strait-controller"),
                                     [{"kind": "ServiceAccount", "name": "strait-controller",
                                       "namespace": "strait-system"}])
                if "openshift" in name:
                    self.assertEqual(self.rules(r, "ClusterRole", "strait-controller-hostsubnets"),
                                     [{"apiGroups": ["network.openshift.io"],
                                       "resources": ["hostsubnets"],
                                       "verbs": ["get", "list", "watch"]}])
                # No role of strait reads Secrets or uses a wildcard.
                for role in r.of_kind("ClusterRole") + r.of_kind("Role"):
                    for rule in role["rules"]:
                        self.assertNotIn("secrets", rule.get("resources", []),
                                         role["metadata"]["name"])
                        for field in ("apiGroups", "resources", "verbs"):
                            self.assertNotIn("*", rule.get(field, []), role["metadata"]["name"])
                dep = r.one("Deployment")
                c = dep["spec"]["template"]["spec"]["containers"][0]
                self.assertEqual(dep["spec"]["template"]["spec"]["serviceAccountName"],
                                 "strait-controller")
                self.assertEqual(c["command"], ["strait-mesh", "controller"])
                self.assertEqual("--hostsubnets" in c["args"], "openshift" in name)
                self.assertIn("--manage-services", c["args"])
                self.assertEqual(c["readinessProbe"]["httpGet"]["path"], "/readyz")
                vols = dep["spec"]["template"]["spec"]["volumes"]
                self.assertEqual(vols, [{"name": "broker", "secret": {"secretName": "strait-broker",
                                                                      "defaultMode": 0o400}}])

    def test_openshift_scc_admits_exactly_what_the_pod_uses(self):
        for name, r in self.rendered.items():
            with self.subTest(kustomization=name):
                sccs = r.of_kind("SecurityContextConstraints")
                if "openshift" not in name:
                    self.assertEqual(sccs, [])
                    continue
                scc = sccs[0]
                self.assertNotIn("namespace", scc["metadata"], "an SCC is cluster-scoped")
                added = set()
                for c in r.pod["containers"]:
                    added |= set(c["securityContext"]["capabilities"]["add"])
                self.assertEqual(set(scc["allowedCapabilities"]), added)
                self.assertFalse(scc["allowPrivilegedContainer"])
                self.assertTrue(scc["allowHostNetwork"])
                kinds = set()
                for v in r.pod["volumes"]:
                    kinds |= set(v) - {"name"}
                self.assertEqual(set(scc["volumes"]), kinds)
                self.assertEqual((scc["users"], scc["groups"]), ([], []))
                role = [x for x in r.of_kind("Role") if x["metadata"]["name"] == "strait-scc"][0]
                self.assertEqual(role["rules"], [{"apiGroups": ["security.openshift.io"],
                                                  "resources": ["securitycontextconstraints"],
                                                  "resourceNames": [scc["metadata"]["name"]],
                                                  "verbs": ["use"]}])
                binding = [b for b in r.of_kind("RoleBinding") if b["roleRef"]["name"] == "strait-scc"]
                self.assertEqual(binding[0]["subjects"][0]["name"], "strait")
                self.assertEqual(r.pod["securityContext"]["seLinuxOptions"], {"type": "spc_t"})

    def test_sriov_wiring(self):
        for name, r in self.rendered.items():
            with self.subTest(kustomization=name):
                straitd = r.container("straitd")
                env = {e["name"]: e.get("value") for e in straitd["env"]}
                if "sriov" not in name:
                    self.assertNotIn("STRAIT_PCIDEVICE_ENV", env)
                    continue
                res = straitd["resources"]
                resource = [k for k in res["limits"] if "/" in k]
                self.assertEqual(len(resource), 1)
                self.assertEqual(res["requests"][resource[0]], "1")
                # The device plugin's variable: PCIDEVICE_ + the resource name, upper case.
                self.assertEqual(env["STRAIT_PCIDEVICE_ENV"],
                                 "PCIDEVICE_" + re.sub(r"[./]", "_", resource[0]).upper())
                self.assertEqual(env["STRAIT_WIRE"], "@PCI@")
                self.assertEqual(env["STRAIT_NODE_CONFIG_REQUIRED"], "1")
                self.assertFalse(any(a.startswith("--wire-ip") for a in straitd["args"]),
                                 "the VF's address comes from strait-node-config")
                vols = {v["name"]: v for v in r.pod["volumes"]}
                self.assertEqual(vols["node-config"]["configMap"]["name"], "strait-node-config")
                # A host-networked pod is never attached by a CNI: no NetworkAttachmentDefinition
                # (it would be unused), and the VF settings come from the example policies,
                # which select the same nodes as the DaemonSet.
                self.assertEqual(r.of_kind("NetworkAttachmentDefinition"), [])
                selector = r.pod["nodeSelector"]
                self.assertEqual(selector.get("strait.io/wire-vf"), "true")
                examples = os.path.join(K8S, "components", "sriov")
                with open(os.path.join(examples, "sriovnetworknodepolicy.example.yaml"),
                          encoding="utf-8") as f:
                    policy = yaml.safe_load(f)["spec"]
                self.assertEqual("openshift.io/" + policy["resourceName"], resource[0])
                self.assertEqual(policy["deviceType"], "vfio-pci")
                self.assertTrue(policy["externallyManaged"])
                with open(os.path.join(examples, "nodenetworkconfigurationpolicy.example.yaml"),
                          encoding="utf-8") as f:
                    nncp = yaml.safe_load(f)["spec"]
                for sel in (policy["nodeSelector"], nncp["nodeSelector"]):
                    self.assertEqual(sel, {"strait.io/wire-vf": "true"})
                sriov = nncp["desiredState"]["interfaces"][0]["ethernet"]["sr-iov"]
                self.assertEqual(len(sriov["vfs"]), sriov["total-vfs"])
                self.assertGreaterEqual(sriov["total-vfs"], policy["numVfs"])
                for vf in sriov["vfs"]:
                    self.assertIs(vf["trust"], True, vf)
                    self.assertIs(vf["spoof-check"], False, vf)

    def test_openshift_performance(self):
        with open(os.path.join(K8S, "components", "openshift-performance",
                               "performanceprofile.example.yaml"), encoding="utf-8") as f:
            profile = yaml.safe_load(f)
        for name, r in self.rendered.items():
            with self.subTest(kustomization=name):
                annotations = r.one("DaemonSet")["spec"]["template"]["metadata"].get("annotations", {})
                if name != "overlays/openshift-sriov":
                    self.assertNotIn("runtimeClassName", r.pod)
                    self.assertFalse([a for a in annotations if a.endswith(".crio.io")])
                    continue
                self.assertEqual(r.pod["runtimeClassName"],
                                 "performance-" + profile["metadata"]["name"])
                for a in ("cpu-load-balancing.crio.io", "cpu-quota.crio.io",
                          "irq-load-balancing.crio.io"):
                    self.assertEqual(annotations[a], "disable", a)
                self.assertEqual(profile["spec"]["numa"]["topologyPolicy"], "single-numa-node")
                pages = profile["spec"]["hugepages"]["pages"]
                self.assertIn("1G", [p["size"] for p in pages])
                limits = r.container("straitd")["resources"]["limits"]
                self.assertEqual(limits["hugepages-1Gi"], "1Gi")
                # Exclusive CPUs need Guaranteed QoS with whole CPUs (checked above) and
                # come from the profile's isolated set.
                self.assertIn("isolated", profile["spec"]["cpu"])

    def test_monitoring(self):
        known = metric_names_in_source()
        for name, r in self.rendered.items():
            with self.subTest(kustomization=name):
                if name == "base":
                    self.assertEqual(r.of_kind("PrometheusRule"), [], "base needs no CRDs")
                    continue
                rule = r.one("PrometheusRule")
                alerts = {a["alert"]: a for g in rule["spec"]["groups"] for a in g["rules"]}
                wanted = {"StraitHandshakeStale": "strait_peer_last_handshake_timestamp_seconds",
                          "StraitDropsGrowing": "strait_drops_total",
                          "StraitSpecRefused": "strait_agent_spec_rejected_total",
                          "StraitBrokerUnreachable": "strait_controller_broker_up"}
                for alert, metric in wanted.items():
                    self.assertIn(metric, metric_names_in_expr(alerts[alert]["expr"]), alert)
                self.assertIn("reason", alerts["StraitDropsGrowing"]["expr"])
                for alert, a in alerts.items():
                    self.assertLessEqual(metric_names_in_expr(a["expr"]), known,
                                         f"{alert} uses a series nobody exports")
                    self.assertIn("summary", a["annotations"], alert)
                dashboards = [c for c in r.of_kind("ConfigMap")
                              if c["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
                self.assertEqual(len(dashboards), 1)
                dash = json.loads(dashboards[0]["data"]["strait-dashboard.json"])
                exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
                self.assertTrue(exprs)
                used = set().union(*(metric_names_in_expr(e) for e in exprs))
                self.assertLessEqual(used, known, "the dashboard plots a series nobody exports")
                for metric in ("strait_port_rx_missed_total", "strait_lcore_busy_ratio",
                               "strait_drops_total", "strait_peer_last_handshake_timestamp_seconds"):
                    self.assertIn(metric, used)
                ports = {p["name"]: p["containerPort"] for c in r.pod["containers"]
                         for p in c.get("ports", [])}
                if name.startswith("overlays/openshift"):
                    self.assertEqual(r.of_kind("PodMonitor"), [])
                    sm = r.one("ServiceMonitor")
                    svc = [s for s in r.of_kind("Service")
                           if s["metadata"]["name"] == "strait-metrics"][0]
                    secret = svc["metadata"]["annotations"][
                        "service.beta.openshift.io/serving-cert-secret-name"]
                    vols = {v["name"]: v for v in r.pod["volumes"]}
                    self.assertEqual(vols["metrics-tls"]["secret"]["secretName"], secret)
                    svc_ports = {p["name"]: p["targetPort"] for p in svc["spec"]["ports"]}
                    for ep in sm["spec"]["endpoints"]:
                        self.assertEqual(ep["scheme"], "https")
                        self.assertEqual(ep["tlsConfig"]["serverName"],
                                         f"{svc['metadata']['name']}.strait-system.svc")
                        self.assertEqual(svc_ports[ep["port"]], ports[ep["port"]])
                    self.assertFalse(r.pod["automountServiceAccountToken"])
                    for proxy in OPENSHIFT_PROXIES:
                        mounts = {m["name"] for m in r.container(proxy)["volumeMounts"]}
                        self.assertEqual(mounts, {"metrics-tls", "kube-api-access"})
                    for c in ("straitd", "strait-agent"):
                        mounts = {m["name"] for m in r.container(c)["volumeMounts"]}
                        self.assertNotIn("kube-api-access", mounts, f"{c} gets no API token")
                    roles = {x["metadata"]["name"]: x for x in r.of_kind("ClusterRole")}
                    self.assertEqual(roles["strait-metrics-reader"]["rules"],
                                     [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}])
                else:
                    self.assertEqual(r.of_kind("ServiceMonitor"), [])
                    pm = r.one("PodMonitor")
                    self.assertEqual(pm["spec"]["selector"]["matchLabels"],
                                     r.one("DaemonSet")["spec"]["selector"]["matchLabels"])
                    scraped = {e["port"] for e in pm["spec"]["podMetricsEndpoints"]}
                    self.assertEqual(scraped, {"straitd-metrics", "metrics"})
                    self.assertLessEqual(scraped, set(ports))

    def test_afxdp_wiring(self):
        for name, r in self.rendered.items():
            with self.subTest(kustomization=name):
                straitd = r.container("straitd")
                env = {e["name"]: e.get("value") for e in straitd["env"]}
                mounts = {m["name"]: m["mountPath"] for m in straitd["volumeMounts"]}
                if "afxdp" not in name:
                    self.assertNotIn("bpffs", mounts)
                    continue
                wire = env["STRAIT_WIRE"]
                self.assertTrue(wire.startswith("net_af_xdp"))
                self.assertIn("queue_count=@WORKERS@", wire)
                self.assertIn("xdp_prog=/usr/lib/x86_64-linux-gnu/strait/strait_xdp.bpf.o", wire)
                self.assertEqual(mounts["bpffs"], "/sys/fs/bpf")


@unittest.skipUnless(os.environ.get("STRAITD"), "STRAITD (path of the straitd binary) not set")
class StraitdConfigTest(unittest.TestCase):
    """straitd reads its --config file before anything else and stops at its first error, so
    an unknown option after it shows whether straitd accepted every key of the file."""

    def test_base_config_is_accepted_by_straitd(self):
        conf = os.path.join(K8S, "base", "straitd.conf")
        r = subprocess.run([os.environ["STRAITD"], "--config", conf, "--not-an-option"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown option '--not-an-option'", r.stderr)
        self.assertNotIn("straitd.conf", r.stderr)


class EntrypointTest(unittest.TestCase):
    """deploy/image/entrypoints/straitd-entrypoint, dry run: the options it derives."""

    def run_ep(self, env, *args):
        full = {"PATH": os.environ["PATH"], "STRAIT_DRY_RUN": "1", **env}
        return subprocess.run(["sh", os.path.join(ENTRYPOINTS, "straitd-entrypoint"), *args],
                               env=full, capture_output=True, text=True)

    def test_cpus_become_main_and_workers(self):
        cases = [  # (allowed CPUs, main lcore, workers, queue count)
            ("2-3", "2", "3", "1"),
            ("4-5,9", "4", "5,9", "2"),
            ("0,2,4-7", "0", "2,4,5,6,7", "5"),
        ]
        for cpus, main, workers, n in cases:
            with self.subTest(cpus=cpus):
                r = self.run_ep({"STRAIT_CPUS": cpus,
                                 "STRAIT_WIRE": "net_af_xdp0,iface=eth0,queue_count=@WORKERS@"},
                                "--config=/c")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout.split(), ["straitd", f"--main-lcore={main}",
                                 f"--lcores={workers}",
                                 f"--wire=net_af_xdp0,iface=eth0,queue_count={n}", "--config=/c"])

    def test_one_cpu_is_refused(self):
        r = self.run_ep({"STRAIT_CPUS": "3", "STRAIT_WIRE": "x"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("needs at least 2 CPUs", r.stderr)

    def test_sriov_vf_and_node_config(self):
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "n1.conf"), "w", encoding="utf-8") as f:
                f.write("# VF address\nwire-ip = 192.168.50.20\nwire-gateway-mac = 00:1c:73:aa:bb:01\n")
            env = {"STRAIT_CPUS": "2,3", "STRAIT_WIRE": "@PCI@", "NODE_NAME": "n1",
                   "STRAIT_PCIDEVICE_ENV": "PCIDEVICE_OPENSHIFT_IO_STRAIT_VF",
                   "PCIDEVICE_OPENSHIFT_IO_STRAIT_VF": "0000:3b:02.1,0000:3b:02.2",
                   "STRAIT_NODE_CONFIG_DIR": tmp, "STRAIT_NODE_CONFIG_REQUIRED": "1"}
            r = self.run_ep(env, "--config=/c")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.split(), ["straitd", "--main-lcore=2", "--lcores=3",
                                                "--wire=0000:3b:02.1", "--config=/c",
                                                "--wire-ip=192.168.50.20",
                                                "--wire-gateway-mac=00:1c:73:aa:bb:01"])
            r = self.run_ep({**env, "NODE_NAME": "n2"})
            self.assertEqual(r.returncode, 2)
            self.assertIn("no " + tmp + "/n2.conf", r.stderr)
            r = self.run_ep({**env, "PCIDEVICE_OPENSHIFT_IO_STRAIT_VF": ""})
            self.assertEqual(r.returncode, 2)
            self.assertIn("allocated no VF", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=1)
