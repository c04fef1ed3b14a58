#!/usr/bin/env python3
"""strait-mesh: renders what joins clusters into one strait mesh, from what `kubectl -o json`
prints, so that every step can be reviewed before it is applied (and tested offline).

  keys      per-node WireGuard key pairs (wg genkey / wg pubkey): the Secret strait-keys
            (one key per node name) and a public-key file. Existing keys are kept.
  services  one LoadBalancer Service per node, whose only endpoint is that node's strait pod
            (a selector-less Service and its EndpointSlice; deploy/README.md says why), and
            strait-node-config (per-node straitd options from node annotations).
  spec      the mesh spec of control/README.md for all clusters, from each cluster's nodes,
            Services (VIPs), pod subnets (OpenShift SDN HostSubnets, node.spec.podCIDR, or
            given), public keys; refuses overlapping CIDRs and missing VIPs, naming them.

Adding a node: re-run keys, services (apply, wait for the VIP), spec (apply everywhere).
Exit codes: 0 ok, 1 the inputs are inconsistent (every problem listed), 2 usage.
"""

import argparse
import base64
import ipaddress
import json
import os
import re
import subprocess
import sys

import yaml

NAMESPACE = "strait-system"
SECRET_NAME = "strait-keys"
SPEC_CONFIGMAP = "strait-mesh-spec"
NODE_CONFIGMAP = "strait-node-config"
DEFAULT_PORT = 51820
NODE_LABEL = "strait.io/node"          # on each per-node Service and EndpointSlice
WIRE_IP_ANNOTATION = "strait.io/wire-ip"
WIRE_GATEWAY_MAC_ANNOTATION = "strait.io/wire-gateway-mac"
STOCK_ANNOTATION = "strait.io/stock-wireguard"  # "true": the node runs stock WireGuard


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
    """A YAML mapping (public keys, pod subnets): node name -> value."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f) or {}
    except OSError as e:
        raise InputError([f"{what}: cannot read {path}: {e.strerror}"]) from e
    except yaml.YAMLError as e:
        raise InputError([f"{what}: {path} is not YAML: {e}"]) from e
    if not isinstance(doc, dict):
        raise InputError([f"{what}: {path} must map node names to values"])
    return {str(k): str(v) for k, v in doc.items()}


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


# ---------------------------------------------------------------- keys

def wg(args, stdin):
    try:
        return subprocess.run(["wg", *args], input=stdin, capture_output=True, text=True,
                              check=True).stdout.strip()
    except FileNotFoundError as e:
        raise SystemExit("strait-mesh: wg not found (apt-get install wireguard-tools)") from e
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"strait-mesh: wg {' '.join(args)} failed: {e.stderr.strip()}") from e


def cmd_keys(a):
    nodes = read_nodes(a.nodes, parse_selector(a.selector))
    existing = {}
    if a.existing_secret:
        secret = load_json(a.existing_secret, "existing secret")
        for name, b64 in (secret.get("data") or {}).items():
            existing[name] = base64.b64decode(b64).decode().strip()
    private, public = {}, {}
    for n in nodes:
        name = n["metadata"]["name"]
        key = existing.get(name) or wg(["genkey"], None)
        private[name] = key
        public[name] = wg(["pubkey"], key + "\n")
    secret = {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": SECRET_NAME, "namespace": NAMESPACE,
                     "labels": {"app.kubernetes.io/part-of": "strait"}},
        # One file per node name under /etc/strait/keys/, as `wg genkey` writes it.
        "data": {k: base64.b64encode((v + "\n").encode()).decode()
                 for k, v in sorted(private.items())},
    }
    write_private(a.out_secret, dump_documents([secret]))
    with open(a.out_public, "w", encoding="utf-8") as f:
        f.write("# public keys of the strait nodes (strait-mesh keys); input of strait-mesh spec\n")
        for k, v in sorted(public.items()):
            f.write(f"{scalar(k)}: {scalar(v)}\n")
    kept = sum(1 for n in private if n in existing)
    print(f"strait-mesh keys: {len(private)} nodes ({kept} kept, {len(private) - kept} new): "
          f"{a.out_secret}, {a.out_public}", file=sys.stderr)
    return 0


def write_private(path, text):
    import os
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


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
        self.public_keys = {}     # node -> key


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
        for entry in (doc.get("spec", {}) or {}).get("clusterNetwork", []) or []:
            c.pod_cidrs.append(entry["cidr"])
        for entry in doc.get("clusterNetworks", []) or []:
            c.pod_cidrs.append(entry["CIDR"])
    if fields.get("pod-cidrs"):
        c.pod_cidrs = [x for x in fields["pod-cidrs"].split(";") if x]
    if "pod-subnets" in fields:
        c.pod_subnets = load_yaml(fields["pod-subnets"], f"cluster {name} pod-subnets")
    return c


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
            subnet_text = (c.pod_subnets.get(name) or c.hostsubnets.get(name)
                           or n.get("spec", {}).get("podCIDR"))
            subnet = None
            if not subnet_text:
                problems.append(f"{nwhere}: no pod subnet (no HostSubnet, no spec.podCIDR, "
                                "not in pod-subnets)")
            else:
                try:
                    subnet = ipaddress.ip_network(subnet_text, strict=True)
                except ValueError as e:
                    problems.append(f"{nwhere}: pod subnet {subnet_text!r} is not a network ({e})")
            if subnet is not None:
                if cidrs and not any(subnet.version == k.version and subnet.subnet_of(k)
                                     for k in cidrs):
                    problems.append(f"{nwhere}: pod subnet {subnet} is not inside the cluster's "
                                    f"pod CIDRs ({', '.join(map(str, cidrs))})")
                for other, other_node in subnets:
                    if other.version == subnet.version and other.overlaps(subnet):
                        problems.append(f"{nwhere}: pod subnet {subnet} overlaps {other} of "
                                        f"node {other_node}")
                subnets.append((subnet, name))
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
                problems.append(f"{nwhere}: no public key in the keys file: re-run "
                                "`strait-mesh keys` for this cluster")
            annotations = n.get("metadata", {}).get("annotations", {}) or {}
            out_nodes.append({
                "name": name, "cluster": c.name,
                "pod_subnet": str(subnet) if subnet else None,
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
                  f"    pod_subnet: {scalar(n['pod_subnet'])}",
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

    k = sub.add_parser("keys", help="per-node key pairs: Secret + public-key file")
    k.add_argument("--nodes", required=True, help="`kubectl get nodes -o json` output")
    k.add_argument("--existing-secret", help="`kubectl -n strait-system get secret "
                   "strait-keys -o json` output: its keys are kept")
    k.add_argument("--out-secret", required=True, help="Secret manifest to write (mode 0600)")
    k.add_argument("--out-public", required=True, help="public keys (YAML node: key)")
    k.add_argument("--selector", help="only nodes with these labels (k=v,k=v)")
    k.set_defaults(run=cmd_keys)

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

    a = p.parse_args(argv)
    try:
        return a.run(a)
    except InputError as e:
        for line in e.problems:
            print(f"strait-mesh {a.command}: {line}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
