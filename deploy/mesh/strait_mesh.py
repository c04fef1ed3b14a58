#!/usr/bin/env python3
"""strait-mesh: renders what joins clusters into one strait mesh, from what `kubectl -o json`
prints, so that every step can be reviewed before it is applied (and tested offline).

  services  one LoadBalancer Service per node, whose only endpoint is that node's strait pod
            (a selector-less Service and its EndpointSlice; deploy/README.md says why), and
            strait-node-config (per-node straitd options from node annotations).
  spec      the mesh spec of control/README.md for all clusters, from each cluster's nodes,
            Services (VIPs), pod subnets (OpenShift SDN HostSubnets, OVN-Kubernetes'
            k8s.ovn.org/node-subnets annotation, node.spec.podCIDRs, or given), public keys;
            refuses overlapping CIDRs and missing VIPs, naming them.
  controller, join, leave, status, diagnose, rotate-key, publish-key: the broker's commands
            (controller.py, mesh_ops.py): the mesh assembles itself (DESIGN.md section 5a).

Private keys never pass through strait-mesh: straitd makes each node's key on the node, and
only public keys travel (the Node annotation strait.io/public-key).
Adding a node by hand: services (apply, wait for the VIP), spec (apply everywhere).
Exit codes: 0 ok, 1 the inputs are inconsistent (every problem listed), 2 usage.
"""

import argparse
import faulthandler
import ipaddress
import json
import os
import re
import subprocess
import sys

import yaml

NAMESPACE = "strait-system"
SPEC_CONFIGMAP = "strait-mesh-spec"
NODE_CONFIGMAP = "strait-node-config"
DEFAULT_PORT = 51820
NODE_LABEL = "strait.io/node"          # on each per-node Service and EndpointSlice
WIRE_IP_ANNOTATION = "strait.io/wire-ip"
WIRE_GATEWAY_MAC_ANNOTATION = "strait.io/wire-gateway-mac"
STOCK_ANNOTATION = "strait.io/stock-wireguard"  # "true": the node runs stock WireGuard
# OVN-Kubernetes writes each node's pod subnets here, per network ("default" is the cluster's
# pod network): '{"default":"10.128.0.0/23"}' in older releases, a list since dual-stack
# ('{"default":["10.128.0.0/23","fd01:0:0:1::/64"]}').
OVN_SUBNETS_ANNOTATION = "k8s.ovn.org/node-subnets"


class InputError(Exception):
    """Inconsistent inputs: every problem, one per line."""

    def __init__(self, problems):
        super().__init__("\n".join(problems))
        self.problems = problems


# ---------------------------------------------------------------- reading kubectl output

def load_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise InputError([f"{what}: cannot read {path}: {e.strerror}"]) from e
    except json.JSONDecodeError as e:
        raise InputError([f"{what}: {path} is not JSON (line {e.lineno}): pass what "
                          "`kubectl get ... -o json` prints"]) from e


def load_yaml(path, what):
    """A YAML mapping (public keys, pod subnets): node name -> value (a string, or a list of
    strings: a node's several pod subnets)."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f) or {}
    except OSError as e:
        raise InputError([f"{what}: cannot read {path}: {e.strerror}"]) from e
    except yaml.YAMLError as e:
        raise InputError([f"{what}: {path} is not YAML: {e}"]) from e
    if not isinstance(doc, dict):
        raise InputError([f"{what}: {path} must map node names to values"])
    return {str(k): [str(x) for x in v] if isinstance(v, list) else str(v)
            for k, v in doc.items()}


def items_of(doc, kind, path):
    """The objects of a `kubectl get KIND -o json` list (or a single object)."""
    if isinstance(doc, dict) and doc.get("kind", "").endswith("List"):
        return doc.get("items") or []
    if isinstance(doc, dict) and doc.get("kind") == kind:
        return [doc]
    if isinstance(doc, dict) and "items" in doc:
        return doc["items"] or []
    raise InputError([f"{path}: expected a {kind} list (`kubectl get ... -o json`)"])


def node_selected(node, selector):
    labels = node.get("metadata", {}).get("labels", {}) or {}
    # The DaemonSet runs on Linux nodes only (its nodeSelector).
    if labels.get("kubernetes.io/os", "linux") != "linux":
        return False
    for key, value in selector.items():
        if labels.get(key) != value:
            return False
    return True


def parse_selector(text):
    selector = {}
    for part in filter(None, (text or "").split(",")):
        key, eq, value = part.partition("=")
        if not eq:
            raise SystemExit(f"strait-mesh: --selector {text!r}: expected key=value[,key=value]")
        selector[key.strip()] = value.strip()
    return selector


def read_nodes(path, selector):
    nodes = [n for n in items_of(load_json(path, "nodes"), "Node", path)
             if node_selected(n, selector)]
    return sorted(nodes, key=lambda n: n["metadata"]["name"])


def node_wire_ip(node):
    """The address the node's VIP forwards to: the annotation, else its InternalIP."""
    annotations = node.get("metadata", {}).get("annotations", {}) or {}
    if annotations.get(WIRE_IP_ANNOTATION):
        return annotations[WIRE_IP_ANNOTATION]
    internal = [a["address"] for a in node.get("status", {}).get("addresses", []) or []
                if a.get("type") == "InternalIP"]
    internal.sort(key=lambda a: ipaddress.ip_address(a).version)  # IPv4 first
    return internal[0] if internal else None


# ---------------------------------------------------------------- names

def object_name(node_name):
    """strait-<node> as a DNS-1035 label (Service names): dots become dashes, long names
    are cut and get a stable hash suffix so that two nodes never share a name."""
    base = re.sub(r"[^a-z0-9-]", "-", node_name.lower())
    name = f"strait-{base}".strip("-")
    if len(name) > 63:
        digest = format(zlib_crc32(node_name.encode()), "08x")
        name = name[:54].rstrip("-") + "-" + digest
    return name


def zlib_crc32(data):
    import zlib
    return zlib.crc32(data) & 0xFFFFFFFF


def label_value_ok(value):
    return len(value) <= 63 and re.fullmatch(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]", value)


# ---------------------------------------------------------------- YAML output

_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:+=-]*")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def scalar(value):
    """A YAML scalar for a string that reads back as the same string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    s = str(value)
    looks_numeric = re.fullmatch(r"[-+]?[0-9][0-9_.:eE+-]*", s) is not None
    if _PLAIN.fullmatch(s) and s.lower() not in _YAML_WORDS and not looks_numeric \
            and ": " not in s and not s.endswith(":"):
        return s
    return json.dumps(s)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (file contents in ConfigMaps) as literal blocks."""


_Dumper.add_representer(str, lambda d, s: d.represent_scalar(
    "tag:yaml.org,2002:str", s, style="|" if "\n" in s else None))


def dump_documents(docs):
    return "".join("---\n" + yaml.dump(d, Dumper=_Dumper, sort_keys=False,
                                       default_flow_style=False) for d in docs)


# ---------------------------------------------------------------- services

def render_services(nodes, port):
    docs, node_conf, problems = [], {}, []
    for n in nodes:
        name = n["metadata"]["name"]
        annotations = n.get("metadata", {}).get("annotations", {}) or {}
        ip = node_wire_ip(n)
        if not ip:
            problems.append(f"node {name}: no InternalIP in status.addresses and no "
                            f"{WIRE_IP_ANNOTATION} annotation: nowhere to send its VIP's traffic")
            continue
        try:
            family = ipaddress.ip_address(ip).version
        except ValueError:
            problems.append(f"node {name}: {WIRE_IP_ANNOTATION}={ip!r} is not an IP address")
            continue
        obj = object_name(name)
        labels = {"app.kubernetes.io/part-of": "strait"}
        if label_value_ok(name):
            labels[NODE_LABEL] = name
        meta = {"name": obj, "namespace": NAMESPACE, "labels": labels,
                "annotations": {NODE_LABEL: name}}
        docs.append({
            "apiVersion": "v1", "kind": "Service", "metadata": meta,
            "spec": {
                "type": "LoadBalancer",
                # No selector: the EndpointSlice below is the only endpoint, this node's.
                "externalTrafficPolicy": "Local",
                # straitd's wire bypasses the kernel, so kube-proxy's NodePort NAT would never
                # reach it: the load balancer must deliver to VIP:port itself.
                "allocateLoadBalancerNodePorts": False,
                "ipFamilies": [f"IPv{family}"],
                "ports": [{"name": "wireguard", "protocol": "UDP", "port": port,
                           "targetPort": port}],
            },
        })
        docs.append({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": obj, "namespace": NAMESPACE,
                         "labels": {**labels, "kubernetes.io/service-name": obj,
                                    "endpointslice.kubernetes.io/managed-by": "strait-mesh"},
                         "annotations": {NODE_LABEL: name}},
            "addressType": f"IPv{family}",
            "endpoints": [{"addresses": [ip], "nodeName": name,
                           "conditions": {"ready": True}}],
            "ports": [{"name": "wireguard", "protocol": "UDP", "port": port}],
        })
        if annotations.get(WIRE_IP_ANNOTATION):
            lines = [f"wire-ip = {annotations[WIRE_IP_ANNOTATION]}"]
            if annotations.get(WIRE_GATEWAY_MAC_ANNOTATION):
                lines.append(f"wire-gateway-mac = {annotations[WIRE_GATEWAY_MAC_ANNOTATION]}")
            node_conf[f"{name}.conf"] = "\n".join(lines) + "\n"
    if problems:
        raise InputError(problems)
    docs.append({"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": NODE_CONFIGMAP, "namespace": NAMESPACE,
                              "labels": {"app.kubernetes.io/part-of": "strait"}},
                 "data": dict(sorted(node_conf.items()))})
    return docs


def cmd_services(a):
    nodes = read_nodes(a.nodes, parse_selector(a.selector))
    if not nodes:
        raise InputError([f"{a.nodes}: no node matches (Linux nodes"
                          f"{', selector ' + a.selector if a.selector else ''})"])
    out = dump_documents(render_services(nodes, a.port))
    write_out(a.out, out)
    return 0


def write_out(path, text):
    if path in (None, "-"):
        sys.stdout.write(text)
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


# ---------------------------------------------------------------- spec

class ClusterInput:
    """What one cluster contributes, read from its `kubectl -o json` files."""

    def __init__(self, name):
        self.name = name
        self.nodes = []           # node objects
        self.services = []        # Service objects in strait-system
        self.hostsubnets = {}     # node name -> subnet (OpenShift SDN)
        self.pod_cidrs = []       # cluster CIDRs
        self.pod_subnets = {}     # explicit node -> subnet
        self.public_keys = {}     # node -> public key


def parse_cluster_arg(text):
    """NAME,nodes=FILE,services=FILE,keys=FILE[,hostsubnets=FILE][,network=FILE]
    [,pod-cidrs=CIDR;CIDR][,pod-subnets=FILE]"""
    parts = text.split(",")
    name, fields = parts[0], {}
    for p in parts[1:]:
        k, eq, v = p.partition("=")
        if not eq or k not in {"nodes", "services", "keys", "hostsubnets", "network",
                               "pod-cidrs", "pod-subnets"}:
            raise SystemExit(f"strait-mesh: --cluster {text!r}: unknown or empty field {p!r}")
        fields[k] = v
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name or ""):
        raise SystemExit(f"strait-mesh: --cluster {text!r}: the cluster name comes first "
                         "(lower-case letters, digits, '-')")
    for k in ("nodes", "services", "keys"):
        if k not in fields:
            raise SystemExit(f"strait-mesh: --cluster {name}: {k}=FILE is required")
    return name, fields


def read_cluster(name, fields, selector):
    c = ClusterInput(name)
    c.nodes = read_nodes(fields["nodes"], selector)
    c.services = items_of(load_json(fields["services"], f"cluster {name} services"),
                          "Service", fields["services"])
    c.public_keys = load_yaml(fields["keys"], f"cluster {name} keys")
    if "hostsubnets" in fields:
        for hs in items_of(load_json(fields["hostsubnets"], f"cluster {name} hostsubnets"),
                           "HostSubnet", fields["hostsubnets"]):
            c.hostsubnets[hs.get("host") or hs["metadata"]["name"]] = hs.get("subnet")
    if "network" in fields:
        # network.config.openshift.io/cluster (spec.clusterNetwork[].cidr) or the SDN's
        # ClusterNetwork (clusterNetworks[].CIDR).
        doc = load_json(fields["network"], f"cluster {name} network")
        # status.clusterNetwork is what the network operator applied; spec is what was asked
        # (they differ only during a migration, e.g. OpenShift SDN -> OVN-Kubernetes).
        for part in ("status", "spec"):
            entries = (doc.get(part, {}) or {}).get("clusterNetwork", []) or []
            if entries:
                c.pod_cidrs += [entry["cidr"] for entry in entries]
                break
        for entry in doc.get("clusterNetworks", []) or []:
            c.pod_cidrs.append(entry["CIDR"])
    if fields.get("pod-cidrs"):
        c.pod_cidrs = [x for x in fields["pod-cidrs"].split(";") if x]
    if "pod-subnets" in fields:
        c.pod_subnets = load_yaml(fields["pod-subnets"], f"cluster {name} pod-subnets")
    return c


def ovn_node_subnets(text):
    """The default network's subnets from a k8s.ovn.org/node-subnets annotation value (both
    the single-string and the list form). ValueError saying what is wrong otherwise."""
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise ValueError(f"annotation {OVN_SUBNETS_ANNOTATION} is not JSON ({e}): "
                         f"{text!r}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"annotation {OVN_SUBNETS_ANNOTATION} is not a JSON object: {text!r}")
    if "default" not in doc:
        raise ValueError(f"annotation {OVN_SUBNETS_ANNOTATION} has no \"default\" network "
                         f"(has {', '.join(sorted(doc)) or 'nothing'}): {text!r}")
    value = doc["default"]
    subnets = [value] if isinstance(value, str) else value
    if (not isinstance(subnets, list) or not subnets
            or not all(isinstance(x, str) and x for x in subnets)):
        raise ValueError(f"annotation {OVN_SUBNETS_ANNOTATION}: \"default\" must be a CIDR or "
                         f"a non-empty list of CIDRs: {text!r}")
    return subnets


def node_pod_subnets(c, node):
    """(where the subnets came from, [CIDR text, ...]) of one node, first source that has
    them: the given pod-subnets file, OpenShift SDN's HostSubnet, OVN-Kubernetes' annotation,
    node.spec.podCIDRs / podCIDR (the Kubernetes IPAM, Calico with host-local, flannel).
    ValueError for a malformed annotation."""
    name = node["metadata"]["name"]
    given = c.pod_subnets.get(name)
    if given:
        return "pod-subnets", [given] if isinstance(given, str) else list(given)
    if c.hostsubnets.get(name):
        return "HostSubnet", [c.hostsubnets[name]]
    annotation = (node.get("metadata", {}).get("annotations", {}) or {}).get(
        OVN_SUBNETS_ANNOTATION)
    if annotation is not None:
        return OVN_SUBNETS_ANNOTATION, ovn_node_subnets(annotation)
    spec = node.get("spec", {}) or {}
    if spec.get("podCIDRs"):
        return "spec.podCIDRs", list(spec["podCIDRs"])
    if spec.get("podCIDR"):
        return "spec.podCIDR", [spec["podCIDR"]]
    return None, []


def format_endpoint(ip, port):
    return f"[{ip}]:{port}" if ipaddress.ip_address(ip).version == 6 else f"{ip}:{port}"


def build_spec(clusters):
    """The mesh spec as a dict, or InputError listing every problem."""
    problems, out_clusters, out_nodes = [], [], []
    seen_cidrs = []  # (network, cluster)
    seen_nodes = {}  # node name -> cluster
    for c in clusters:
        where = f"cluster {c.name}"
        cidrs = []
        if not c.pod_cidrs:
            problems.append(f"{where}: no pod CIDRs: give network=FILE (`oc get "
                            "network.config.openshift.io cluster -o json`) or pod-cidrs=CIDR")
        for text in c.pod_cidrs:
            try:
                net = ipaddress.ip_network(text, strict=True)
            except ValueError as e:
                problems.append(f"{where}: pod CIDR {text!r} is not a network ({e})")
                continue
            for other, other_cluster in seen_cidrs:
                if net.version == other.version and net.overlaps(other):
                    problems.append(f"{where}: pod CIDR {net} overlaps {other} of cluster "
                                    f"{other_cluster}: joined clusters need disjoint pod CIDRs")
            seen_cidrs.append((net, c.name))
            cidrs.append(net)
        out_clusters.append({"name": c.name, "pod_cidrs": [str(n) for n in cidrs]})

        services = {}
        for s in c.services:
            node = (s.get("metadata", {}).get("annotations", {}) or {}).get(NODE_LABEL)
            if node:
                services[node] = s
        subnets = []
        for n in c.nodes:
            name = n["metadata"]["name"]
            nwhere = f"{where} node {name}"
            if name in seen_nodes:
                problems.append(f"{nwhere}: the name is also a node of cluster "
                                f"{seen_nodes[name]}: the mesh spec needs node names unique "
                                "across clusters")
            seen_nodes[name] = c.name
            try:
                source, subnet_texts = node_pod_subnets(c, n)
            except ValueError as e:
                problems.append(f"{nwhere}: {e}")
                source, subnet_texts = "annotation", None
            node_subnets = []
            if subnet_texts == []:
                problems.append(f"{nwhere}: no pod subnet (no HostSubnet, no "
                                f"{OVN_SUBNETS_ANNOTATION} annotation, no spec.podCIDR, "
                                "not in pod-subnets)")
            for text in subnet_texts or []:
                try:
                    subnet = ipaddress.ip_network(text, strict=True)
                except ValueError as e:
                    problems.append(f"{nwhere}: pod subnet {text!r} (from {source}) is not a "
                                    f"network ({e})")
                    continue
                if cidrs and not any(subnet.version == k.version and subnet.subnet_of(k)
                                     for k in cidrs):
                    problems.append(f"{nwhere}: pod subnet {subnet} is not inside the cluster's "
                                    f"pod CIDRs ({', '.join(map(str, cidrs))})")
                for other, other_node in subnets:
                    if other.version == subnet.version and other.overlaps(subnet):
                        problems.append(f"{nwhere}: pod subnet {subnet} overlaps {other} of "
                                        f"node {other_node}")
                subnets.append((subnet, name))
                node_subnets.append(str(subnet))
            svc = services.get(name)
            endpoint = None
            if svc is None:
                problems.append(f"{nwhere}: no Service for it in {NAMESPACE} (annotation "
                                f"{NODE_LABEL}={name}): apply `strait-mesh services` output")
            else:
                ingress = (svc.get("status", {}).get("loadBalancer", {}) or {}).get("ingress") or []
                ips = [i["ip"] for i in ingress if i.get("ip")]
                sname = svc["metadata"]["name"]
                if not ips:
                    hostnames = [i["hostname"] for i in ingress if i.get("hostname")]
                    why = (f"has only a hostname ({hostnames[0]}); the spec needs an IP"
                           if hostnames else "has no load-balancer address yet "
                           "(status.loadBalancer.ingress is empty): wait for the load "
                           "balancer, or check that the cluster has a LoadBalancer provider")
                    problems.append(f"{nwhere}: missing VIP: Service {NAMESPACE}/{sname} {why}")
                else:
                    ports = svc.get("spec", {}).get("ports") or [{}]
                    endpoint = format_endpoint(ips[0], ports[0].get("port", DEFAULT_PORT))
            key = c.public_keys.get(name)
            if not key:
                problems.append(f"{nwhere}: no public key: its straitd publishes one when "
                                "it starts (Node annotation strait.io/public-key)")
            annotations = n.get("metadata", {}).get("annotations", {}) or {}
            out_nodes.append({
                "name": name, "cluster": c.name,
                "pod_subnets": node_subnets,
                "endpoint": endpoint, "public_key": key,
                "straitd": annotations.get(STOCK_ANNOTATION) != "true",
            })
        if not c.nodes:
            problems.append(f"{where}: no nodes")
    if problems:
        raise InputError(problems)
    return {"clusters": out_clusters, "nodes": out_nodes}


def render_spec_yaml(spec, keepalive, sources):
    lines = [f"# strait mesh spec (control/README.md), rendered by strait-mesh spec from "
             f"{sources}", "clusters:"]
    for c in spec["clusters"]:
        lines += [f"  - name: {scalar(c['name'])}",
                  f"    pod_cidrs: [{', '.join(scalar(x) for x in c['pod_cidrs'])}]"]
    lines.append("nodes:")
    for n in spec["nodes"]:
        lines += [f"  - name: {scalar(n['name'])}",
                  f"    cluster: {scalar(n['cluster'])}",
                  f"    pod_subnets: [{', '.join(scalar(x) for x in n['pod_subnets'])}]",
                  f"    endpoint: {scalar(n['endpoint'])}",
                  f"    public_key: {scalar(n['public_key'])}",
                  f"    straitd: {scalar(n['straitd'])}"]
    if keepalive is not None:
        lines += ["defaults:", f"  persistent_keepalive: {keepalive}"]
    return "\n".join(lines) + "\n"


def cmd_spec(a):
    selector = parse_selector(a.selector)
    clusters = [read_cluster(*parse_cluster_arg(text), selector) for text in a.cluster]
    if len({c.name for c in clusters}) != len(clusters):
        raise SystemExit("strait-mesh: a cluster name is given twice")
    spec = build_spec(clusters)
    sources = ", ".join(f"{c.name} ({len(c.nodes)} nodes)" for c in clusters)
    text = render_spec_yaml(spec, a.keepalive, sources)
    if a.configmap:
        text = dump_documents([{"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": SPEC_CONFIGMAP, "namespace": NAMESPACE,
                                             "labels": {"app.kubernetes.io/part-of": "strait"}},
                                "data": {"mesh.yaml": text}}])
    write_out(a.out, text)
    return 0


# ---------------------------------------------------------------- command line

def version_text():
    """The line every strait binary prints for --version, computed from the same sources as the
    build's generated header (dataplane/observability/meson.build): the project version in the
    top meson.build, the commit from `git rev-parse --short=12 HEAD` ("unknown" without git or
    outside a clone)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    version = "unknown"
    try:
        with open(os.path.join(root, "meson.build"), encoding="utf-8") as f:
            m = re.search(r"project\([^)]*?version:\s*'([^']+)'", f.read(), re.S)
            if m:
                version = m.group(1)
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "-C", root, "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = ""
    return f"strait-mesh {version} (commit {commit or 'unknown'})"


def main(argv=None):
    p = argparse.ArgumentParser(prog="strait-mesh", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=version_text())
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("services", help="per-node LoadBalancer Services + EndpointSlices")
    s.add_argument("--nodes", required=True, help="`kubectl get nodes -o json` output")
    s.add_argument("--port", type=int, default=DEFAULT_PORT, help="tunnel UDP port (51820)")
    s.add_argument("--selector", help="only nodes with these labels (k=v,k=v)")
    s.add_argument("--out", help="file to write (default stdout)")
    s.set_defaults(run=cmd_services)

    m = sub.add_parser("spec", help="the mesh spec for all clusters")
    m.add_argument("--cluster", action="append", required=True, metavar="NAME,nodes=F,...",
                   help="NAME,nodes=FILE,services=FILE,keys=FILE[,hostsubnets=FILE]"
                   "[,network=FILE][,pod-cidrs=CIDR;CIDR][,pod-subnets=FILE]; once per cluster")
    m.add_argument("--keepalive", type=int, help="defaults.persistent_keepalive")
    m.add_argument("--selector", help="only nodes with these labels (k=v,k=v)")
    m.add_argument("--configmap", action="store_true",
                   help=f"wrap the spec in the ConfigMap {SPEC_CONFIGMAP}")
    m.add_argument("--out", help="file to write (default stdout)")
    m.set_defaults(run=cmd_spec)

    # The broker's commands (DESIGN.md section 5a) live in their own files beside this one.
    import controller
    import mesh_ops
    controller.add_parser(sub)
    mesh_ops.add_parsers(sub)

    a = p.parse_args(argv)
    try:
        return a.run(a)
    except InputError as e:
        for line in e.problems:
            print(f"strait-mesh {a.command}: {line}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    # A crash inside a C extension (gRPC under the etcd client) leaves its Python stack in the
    # log instead of nothing.
    faulthandler.enable()
    # Through the module, not __main__: controller.py and mesh_ops.py import strait_mesh, and
    # its InputError must be the one main() catches.
    import strait_mesh
    sys.exit(strait_mesh.main())
