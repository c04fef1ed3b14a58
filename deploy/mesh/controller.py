"""strait-mesh controller: one per cluster (DESIGN.md section 5a). Each round it

  1. reads its cluster as strait_mesh reads `kubectl -o json`: Nodes, the per-node Services'
     LoadBalancer addresses, pod subnets, and the nodes' public keys (the Node annotation
     strait.io/public-key, published by the node itself: private keys never leave it); with
     --manage-services it also makes a new node's VIP Service and removes a departed one's
     (node_services.py);
  2. publishes its cluster's records to the broker (broker.py), writing only what changed;
  3. reads every cluster's records, refuses stale or conflicting ones (named, counted), and
     renders the merged mesh spec with strait_mesh.render_spec_yaml into the spec the agents
     watch (a file in the lab, the ConfigMap strait-mesh-spec in Kubernetes), written only
     when its text changes.

Fail static: when the broker cannot be reached, nothing is rendered, so the last good spec
stays in force (no tunnel is torn down); the controller retries with back-off and says so in
/metrics (strait_controller_broker_up 0) and in its status. A cluster's records go away only
with `strait-mesh leave` or after --ttl seconds of silence, never because its controller
restarted; a restarted controller writes the same records and the same spec (no churn).
"""

import hashlib
import http.server
import ipaddress
import json
import os
import sys
import threading
import time

import broker as brk
import strait_mesh as sm

PUBLIC_KEY_ANNOTATION = "strait.io/public-key"


# ---------------------------------------------------------------- 1. the own cluster

def node_subnets(node_entry):
    """A mesh-spec node's pod subnets, whether the spec says pod_subnet or pod_subnets."""
    if node_entry.get("pod_subnets"):
        return list(node_entry["pod_subnets"])
    return [node_entry["pod_subnet"]] if node_entry.get("pod_subnet") else []


def public_keys_of(nodes):
    """node name -> the public key its node published on itself."""
    out = {}
    for n in nodes:
        key = ((n.get("metadata") or {}).get("annotations") or {}).get(PUBLIC_KEY_ANNOTATION)
        if key:
            out[n["metadata"]["name"]] = key.strip()
    return out


def own_records(cluster):
    """(cluster entry, {node name: spec node entry}, problems) of one strait_mesh.ClusterInput.
    Each node is checked on its own, so that a node still waiting for its VIP or key is left
    out (named in problems) without holding back the others; then all good nodes together
    (overlaps between them)."""
    problems, good = [], []
    cluster_entry = None
    for n in cluster.nodes:
        one = _with_nodes(cluster, [n])
        try:
            spec = sm.build_spec([one])
            good.append(n)
            cluster_entry = spec["clusters"][0]
        except sm.InputError as e:
            problems += [p for p in e.problems if p not in problems]
    if not good:
        if not cluster.nodes:
            problems.append(f"cluster {cluster.name}: no nodes")
        return cluster_entry, {}, problems
    try:
        spec = sm.build_spec([_with_nodes(cluster, good)])
    except sm.InputError as e:
        return None, {}, problems + e.problems
    return spec["clusters"][0], {n["name"]: n for n in spec["nodes"]}, problems


def _with_nodes(cluster, nodes):
    c = sm.ClusterInput(cluster.name)
    c.__dict__.update(cluster.__dict__)
    c.nodes = nodes
    return c


class InventorySource:
    """The lab's cluster (no Kubernetes): `kubectl get -o json`-shaped files in a directory,
    nodes.json (NodeList, with the public-key annotation) and services.json (ServiceList),
    rewritten by deploy/lab/broker.sh when a node registers or leaves."""

    def __init__(self, cluster, directory, pod_cidrs, selector=None):
        self.cluster, self.directory = cluster, directory
        self.pod_cidrs, self.selector = pod_cidrs, selector or {}

    def read(self):
        c = sm.ClusterInput(self.cluster)
        c.nodes = sm.read_nodes(os.path.join(self.directory, "nodes.json"), self.selector)
        path = os.path.join(self.directory, "services.json")
        c.services = sm.items_of(sm.load_json(path, "services"), "Service", path)
        c.public_keys = public_keys_of(c.nodes)
        c.pod_cidrs = list(self.pod_cidrs)
        return c, True


class KubeSource:
    """A real cluster through the Kubernetes API: informers (kube_watch.py) on Nodes, the
    strait Services, and OpenShift SDN's HostSubnets where the cluster has them. Each step
    runs one watch stream per informer in its own thread."""

    def __init__(self, cluster, api_client, pod_cidrs, selector=None, hostsubnets=False):
        import kubernetes
        import kube_watch
        core = kubernetes.client.CoreV1Api(api_client)
        self.cluster, self.pod_cidrs, self.selector = cluster, pod_cidrs, selector or {}
        self.informers = {
            "nodes": kube_watch.api_informer("nodes", core.list_node),
            "services": kube_watch.api_informer(
                "services", core.list_namespaced_service, namespace=sm.NAMESPACE,
                label_selector="app.kubernetes.io/part-of=strait"),
        }
        if hostsubnets:
            custom = kubernetes.client.CustomObjectsApi(api_client)
            self.informers["hostsubnets"] = kube_watch.api_informer(
                "hostsubnets", custom.list_cluster_custom_object,
                group="network.openshift.io", version="v1", plural="hostsubnets")
        self.changed = threading.Event()
        for inf in self.informers.values():
            threading.Thread(target=self._run, args=(inf,), daemon=True).start()

    def _run(self, informer):
        backoff = 1
        while True:
            informer.step(on_change=self.changed.set)
            time.sleep(backoff if informer.last_error else 0)
            backoff = min(backoff * 2, 30) if informer.last_error else 1

    def read(self):
        c = sm.ClusterInput(self.cluster)
        c.nodes = sorted((n for n in self.informers["nodes"].objects.values()
                          if sm.node_selected(n, self.selector)),
                         key=lambda n: n["metadata"]["name"])
        c.services = list(self.informers["services"].objects.values())
        if "hostsubnets" in self.informers:
            for hs in self.informers["hostsubnets"].objects.values():
                c.hostsubnets[hs.get("host") or hs["metadata"]["name"]] = hs.get("subnet")
        c.public_keys = public_keys_of(c.nodes)
        c.pod_cidrs = list(self.pod_cidrs)
        return c, all(i.synced for i in self.informers.values())


# ---------------------------------------------------------------- 3. every cluster

class Refusal:
    """Broker data left out of the spec: why (a metric label) and a sentence naming it."""

    def __init__(self, reason, text):
        self.reason, self.text = reason, text

    def __eq__(self, other):
        return (self.reason, self.text) == (other.reason, other.text)

    def __hash__(self):
        return hash((self.reason, self.text))


def merge(entries, now, ttl):
    """(mesh spec dict, [Refusal]) from every key under /strait/v1/clusters/. The first
    cluster to claim a CIDR (lowest create_revision of its info key) keeps it."""
    refusals, infos, nodes = [], {}, {}
    for e in entries:
        parsed = brk.parse_key(e.key)
        if parsed is None:
            continue
        cluster, kind, node = parsed
        v = e.value
        if not isinstance(v, dict):
            refusals.append(Refusal("malformed", f"{e.key}: not a JSON object"))
        elif v.get("schema") != brk.SCHEMA:
            refusals.append(Refusal("schema", f"{e.key}: schema {v.get('schema')!r}, this "
                                    f"controller reads {brk.SCHEMA}: upgrade it"))
        elif v.get("cluster") != cluster:
            refusals.append(Refusal("wrong-cluster", f"{e.key}: says cluster "
                                    f"{v.get('cluster')!r} under cluster {cluster}'s prefix"))
        elif kind == "info":
            infos[cluster] = e
        else:
            nodes.setdefault(cluster, []).append((node, e))

    accepted = {}  # cluster -> [ip_network]
    for cluster, e in sorted(infos.items(), key=lambda kv: kv[1].create_revision):
        age = now - float(e.value.get("heartbeat") or 0)
        if age > ttl:
            refusals.append(Refusal("expired", f"cluster {cluster}: no heartbeat for more "
                                    f"than the ttl ({int(ttl)} s): left out until its "
                                    "controller returns"))
            continue
        cidrs, bad = [], None
        for text in e.value.get("pod_cidrs") or []:
            try:
                net = ipaddress.ip_network(text, strict=True)
            except ValueError:
                bad = f"cluster {cluster}: pod CIDR {text!r} is not a network"
                break
            for other, nets in accepted.items():
                for o in nets:
                    if o.version == net.version and o.overlaps(net):
                        bad = (f"cluster {cluster}: pod CIDR {net} overlaps {o} of cluster "
                               f"{other}, which claimed it first: cluster {cluster} refused")
            if bad:
                break
            cidrs.append(net)
        if bad:
            refusals.append(Refusal("cidr-conflict", bad))
            continue
        accepted[cluster] = cidrs

    out_clusters, out_nodes, names, keys = [], [], {}, {}
    for cluster in sorted(accepted):
        out_clusters.append({"name": cluster, "pod_cidrs": [str(n) for n in accepted[cluster]]})
    for cluster in sorted(accepted, key=lambda c: infos[c].create_revision):
        for node, e in sorted(nodes.get(cluster, []), key=lambda x: x[1].create_revision):
            n = e.value.get("node") or {}
            where = f"cluster {cluster} node {node}"
            if n.get("name") != node or n.get("cluster") != cluster:
                refusals.append(Refusal("wrong-cluster", f"{where}: the record names "
                                        f"{n.get('cluster')}/{n.get('name')}"))
                continue
            if node in names:
                refusals.append(Refusal("node-conflict", f"{where}: the name is a node of "
                                        f"cluster {names[node]} too: refused"))
                continue
            if n.get("public_key") in keys:
                refusals.append(Refusal("key-conflict", f"{where}: public key is also node "
                                        f"{keys[n.get('public_key')]}'s: refused"))
                continue
            outside = [s for s in node_subnets(n) if not _inside(s, accepted[cluster])]
            if outside:
                refusals.append(Refusal("cidr-conflict", f"{where}: pod subnet "
                                        f"{', '.join(outside)} is outside cluster {cluster}'s "
                                        "pod CIDRs: refused"))
                continue
            names[node] = cluster
            keys[n.get("public_key")] = node
            # Records written before the spec took several subnets per node say pod_subnet;
            # the spec is rendered in the one current form.
            n = {k: v for k, v in n.items() if k != "pod_subnet"}
            n["pod_subnets"] = node_subnets(e.value.get("node") or {})
            out_nodes.append(n)
    out_nodes.sort(key=lambda n: (n["cluster"], n["name"]))
    return {"clusters": out_clusters, "nodes": out_nodes}, refusals


def _inside(subnet_text, cidrs):
    try:
        s = ipaddress.ip_network(subnet_text, strict=True)
    except ValueError:
        return False
    return any(s.version == c.version and s.subnet_of(c) for c in cidrs)


# ---------------------------------------------------------------- where the spec goes

class FileTarget:
    """The spec file the agents watch (the lab; a ConfigMap's mounted file)."""

    def __init__(self, path):
        self.path = path

    def current(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                return f.read()
        except OSError:
            return None

    def write(self, text):
        tmp = self.path + ".controller.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, self.path)  # a watching agent never reads half a file


class ConfigMapTarget:
    """The ConfigMap strait-mesh-spec (data mesh.yaml) in strait-system."""

    def __init__(self, api_client):
        import kubernetes
        self.core = kubernetes.client.CoreV1Api(api_client)

    def current(self):
        cm = self.core.read_namespaced_config_map(sm.SPEC_CONFIGMAP, sm.NAMESPACE)
        return (cm.data or {}).get("mesh.yaml")

    def write(self, text):
        self.core.patch_namespaced_config_map(sm.SPEC_CONFIGMAP, sm.NAMESPACE,
                                              {"data": {"mesh.yaml": text}})


# ---------------------------------------------------------------- the loop

class Controller:
    def __init__(self, cluster, cluster_id, source, broker, target, ttl=86400.0,
                 heartbeat=60.0, interval=2.0, max_backoff=30.0, keepalive=None,
                 status_file=None, clock=time.time, services=None):
        self.cluster, self.cluster_id = cluster, cluster_id
        self.source, self.broker, self.target = source, broker, target
        self.ttl, self.heartbeat, self.interval = ttl, heartbeat, interval
        self.max_backoff, self.keepalive = max_backoff, keepalive
        self.status_file, self.clock = status_file, clock
        self.services = services  # node_services.ServiceReconciler, or None (--manage-services)
        self.service_problems = []
        self.lock = threading.Lock()  # the round thread vs the metrics thread
        self.broker_up = 0
        self.last_ok = 0.0
        self.last_heartbeat = 0.0
        self.failures = 0
        self.error = None
        self.problems = []
        self.refusals = set()
        self.refused_total = {}   # reason -> count of refusals first seen
        self.spec_writes = 0
        self.broker_writes = 0
        self.generation = None    # sha256 of the spec in force
        self.rendered_nodes = []

    # -- one round: returns the seconds to wait before the next

    def round(self):
        now = self.clock()
        try:
            cluster, complete = self.source.read()
        except sm.InputError as e:
            cluster, complete = None, False
            self._set(problems=list(e.problems))
        if cluster is not None and self.services is not None:
            # Before the broker: a node's VIP does not wait for the broker to be reachable.
            problems = self.services.reconcile(cluster.nodes, cluster.services, complete)
            for p in set(problems) - set(self.service_problems):
                print(f"strait-mesh controller: {p}", file=sys.stderr, flush=True)
            self._set(service_problems=problems)
        try:
            entries = self.broker.read_all()
            if cluster is not None:
                self._publish(cluster, complete, entries, now)
                entries = self.broker.read_all() if self._wrote else entries
            spec, refusals = merge(entries, now, self.ttl)
            self._render(spec, refusals)
            self._set(broker_up=1, last_ok=now, failures=0, error=None)
            return self.interval
        except brk.BrokerError as e:
            wait = min(self.max_backoff, 2 ** self.failures)
            self._set(broker_up=0, failures=self.failures + 1,
                      error=f"{e}; last good spec kept, retry in {wait:g} s")
            print(f"strait-mesh controller: {self.error}", file=sys.stderr, flush=True)
            return wait
        except Exception as e:  # the Kubernetes API (the ConfigMap), a full disk: retry
            wait = min(self.max_backoff, 2 ** self.failures)
            self._set(failures=self.failures + 1,
                      error=f"{type(e).__name__}: {e}; last good spec kept, retry in {wait:g} s")
            print(f"strait-mesh controller: {self.error}", file=sys.stderr, flush=True)
            return wait
        finally:
            self._write_status()

    def _publish(self, cluster, complete, entries, now):
        self._wrote = False
        mine = {e.key: e for e in entries
                if e.key.startswith(brk.cluster_prefix(self.cluster))}
        cluster_entry, nodes, problems = own_records(cluster)
        self._set(problems=problems)
        info = mine.get(brk.info_key(self.cluster))
        if info and isinstance(info.value, dict) and info.value.get("cluster_id") not in (
                None, self.cluster_id):
            raise brk.BrokerError(
                f"cluster name {self.cluster} is held by cluster id "
                f"{info.value.get('cluster_id')}, this cluster is {self.cluster_id}: two "
                "clusters joined under one name; join this one under another name (strait-mesh "
                "join --cluster NAME)")
        if cluster_entry is not None:
            want = {"schema": brk.SCHEMA, "cluster": self.cluster, "cluster_id": self.cluster_id,
                    "pod_cidrs": cluster_entry["pod_cidrs"]}
            have = dict(info.value) if info and isinstance(info.value, dict) else {}
            beat = have.pop("heartbeat", 0)
            if have != want or now - float(beat or 0) >= self.heartbeat:
                self.broker.put(brk.info_key(self.cluster), {**want, "heartbeat": now})
                self._wrote = True
                self.last_heartbeat = now
        for name, n in nodes.items():
            key = brk.node_key(self.cluster, name)
            old = mine.get(key)
            if old and isinstance(old.value, dict) and old.value.get("node") == n \
                    and old.value.get("schema") == brk.SCHEMA:
                continue
            self.broker.put(key, {"schema": brk.SCHEMA, "cluster": self.cluster, "node": n,
                                  "updated": now})
            self.broker_writes += 1
            self._wrote = True
        if not complete:
            return  # a partial view (informers not synced): never delete on it
        present = {n["metadata"]["name"] for n in cluster.nodes}
        for key in mine:
            parsed = brk.parse_key(key)
            if parsed and parsed[1] == "node" and parsed[2] not in present:
                # The node left the cluster (Kubernetes deleted it): its peers go everywhere.
                self.broker.delete(key)
                self.broker_writes += 1
                self._wrote = True

    def _render(self, spec, refusals):
        new = set(refusals) - self.refusals
        for r in new:
            print(f"strait-mesh controller: refused: {r.text}", file=sys.stderr, flush=True)
            self.refused_total[r.reason] = self.refused_total.get(r.reason, 0) + 1
        self._set(refusals=set(refusals))
        if not spec["nodes"]:
            return  # nothing to say yet; an empty spec would tear every tunnel down
        sources = ", ".join(f"{c['name']} ({sum(1 for n in spec['nodes'] if n['cluster'] == c['name'])} nodes)"
                            for c in spec["clusters"])
        text = sm.render_spec_yaml(spec, self.keepalive, f"the broker: {sources}").replace(
            "rendered by strait-mesh spec", "rendered by strait-mesh controller", 1)
        if self.target.current() != text:
            self.target.write(text)
            self.spec_writes += 1
        self._set(generation=hashlib.sha256(text.encode()).hexdigest()[:16],
                  rendered_nodes=[f"{n['cluster']}/{n['name']}" for n in spec["nodes"]])

    def _set(self, **kw):
        with self.lock:
            self.__dict__.update(kw)

    # -- what it says

    def status(self):
        with self.lock:
            return {"cluster": self.cluster, "cluster_id": self.cluster_id,
                    "broker_up": self.broker_up, "last_ok": self.last_ok, "error": self.error,
                    "spec_generation": self.generation, "spec_nodes": self.rendered_nodes,
                    "problems": self.problems,
                    "service_problems": list(self.service_problems),
                    "services_created": self.services.created if self.services else 0,
                    "services_deleted": self.services.deleted if self.services else 0,
                    "refused": sorted(r.text for r in self.refusals),
                    "refused_total": dict(self.refused_total),
                    "spec_writes": self.spec_writes, "broker_writes": self.broker_writes,
                    "time": self.clock()}

    def _write_status(self):
        if not self.status_file:
            return
        tmp = self.status_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.status(), f, indent=1, sort_keys=True)
        os.replace(tmp, self.status_file)

    def metrics(self):
        s = self.status()
        lines = [
            "# HELP strait_controller_broker_up 1 when the last round trip to the broker succeeded",
            "# TYPE strait_controller_broker_up gauge",
            f'strait_controller_broker_up{{cluster="{self.cluster}"}} {s["broker_up"]}',
            "# HELP strait_controller_last_success_timestamp_seconds last successful broker round",
            "# TYPE strait_controller_last_success_timestamp_seconds gauge",
            f'strait_controller_last_success_timestamp_seconds{{cluster="{self.cluster}"}} '
            f'{s["last_ok"]:.3f}',
            "# HELP strait_controller_spec_nodes nodes in the rendered mesh spec",
            "# TYPE strait_controller_spec_nodes gauge",
            f'strait_controller_spec_nodes{{cluster="{self.cluster}"}} {len(s["spec_nodes"])}',
            "# HELP strait_controller_node_problems own nodes left out (no VIP, key, subnet)",
            "# TYPE strait_controller_node_problems gauge",
            f'strait_controller_node_problems{{cluster="{self.cluster}"}} {len(s["problems"])}',
            "# HELP strait_controller_vip_problems nodes whose VIP Service the controller could "
            "not make or remove (--manage-services)",
            "# TYPE strait_controller_vip_problems gauge",
            f'strait_controller_vip_problems{{cluster="{self.cluster}"}} '
            f'{len(s["service_problems"])}',
            "# HELP strait_controller_vip_services_created_total per-node VIP Services made",
            "# TYPE strait_controller_vip_services_created_total counter",
            f'strait_controller_vip_services_created_total{{cluster="{self.cluster}"}} '
            f'{s["services_created"]}',
            "# HELP strait_controller_vip_services_deleted_total VIP Services of nodes that left",
            "# TYPE strait_controller_vip_services_deleted_total counter",
            f'strait_controller_vip_services_deleted_total{{cluster="{self.cluster}"}} '
            f'{s["services_deleted"]}',
            "# HELP strait_controller_spec_writes_total times the spec text changed",
            "# TYPE strait_controller_spec_writes_total counter",
            f'strait_controller_spec_writes_total{{cluster="{self.cluster}"}} {s["spec_writes"]}',
            "# HELP strait_controller_refused_total broker records refused, by reason",
            "# TYPE strait_controller_refused_total counter",
        ]
        for reason in sorted(s["refused_total"]):
            lines.append(f'strait_controller_refused_total{{cluster="{self.cluster}",'
                         f'reason="{reason}"}} {s["refused_total"][reason]}')
        return "\n".join(lines) + "\n"

    def serve_metrics(self, listen):
        host, _, port = listen.rpartition(":")
        controller = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = (controller.metrics() if self.path == "/metrics"
                        else json.dumps(controller.status()) + "\n").encode()
                ok = self.path in ("/metrics", "/status") or (
                    self.path == "/readyz" and controller.generation is not None)
                self.send_response(200 if ok else 503)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer((host or "0.0.0.0", int(port)), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def run(self, stop=None):
        while stop is None or not stop.is_set():
            wait = self.round()
            changed = getattr(self.source, "changed", None)
            if changed is not None:
                changed.wait(wait)
                changed.clear()
            elif stop is not None:
                stop.wait(wait)
            else:
                time.sleep(wait)


# ---------------------------------------------------------------- command line

def add_parser(sub):
    c = sub.add_parser("controller", help="publish this cluster to the broker and render the "
                       "merged mesh spec (one per cluster; deploy/k8s controller Deployment)")
    c.add_argument("--cluster", required=True, help="this cluster's name in the mesh")
    c.add_argument("--cluster-id", help="a stable id of this cluster (default in Kubernetes: "
                   "the uid of namespace kube-system)")
    c.add_argument("--broker", required=True, help="etcd members, host:port[,host:port...]")
    c.add_argument("--broker-ca", required=True, help="CA of the etcd members (PEM)")
    c.add_argument("--broker-cert", required=True, help="client certificate, CN strait-<cluster>")
    c.add_argument("--broker-key", required=True, help="its private key")
    src = c.add_mutually_exclusive_group(required=True)
    src.add_argument("--inventory", help="directory with nodes.json and services.json (the lab)")
    src.add_argument("--kubernetes", action="store_true",
                     help="watch the Kubernetes API (in-cluster, or --kubeconfig/--context)")
    c.add_argument("--kubeconfig", help="kubeconfig file (outside the cluster)")
    c.add_argument("--context", help="kubeconfig context")
    c.add_argument("--hostsubnets", action="store_true",
                   help="OpenShift SDN: pod subnets from HostSubnets")
    c.add_argument("--pod-cidrs", required=True, help="this cluster's pod CIDRs, CIDR[;CIDR]")
    c.add_argument("--selector", help="only nodes with these labels (k=v,k=v)")
    c.add_argument("--manage-services", action="store_true",
                   help="with --kubernetes: make each selected node's VIP Service and "
                   "EndpointSlice when it has none, remove those of nodes that left "
                   "(node_services.py)")
    c.add_argument("--port", type=int, default=sm.DEFAULT_PORT,
                   help="tunnel UDP port of the Services --manage-services makes (51820)")
    out = c.add_mutually_exclusive_group(required=True)
    out.add_argument("--spec-file", help="write the merged spec to this file (the lab)")
    out.add_argument("--configmap", action="store_true",
                     help=f"write it to ConfigMap {sm.NAMESPACE}/{sm.SPEC_CONFIGMAP}")
    c.add_argument("--ttl", type=float, default=7 * 86400,
                   help="leave out a cluster silent for this long (s, default one week)")
    c.add_argument("--heartbeat", type=float, default=60, help="heartbeat period (s)")
    c.add_argument("--interval", type=float, default=5, help="round period (s)")
    c.add_argument("--max-backoff", type=float, default=30, help="longest retry wait (s)")
    c.add_argument("--broker-timeout", type=float, default=2, help="per request (s)")
    c.add_argument("--keepalive", type=int, help="defaults.persistent_keepalive in the spec")
    c.add_argument("--status-file", help="write the status (JSON) here each round")
    c.add_argument("--metrics-listen", help="host:port for /metrics, /status, /readyz")
    c.add_argument("--once", action="store_true", help="one round, then exit (0: broker up)")
    c.set_defaults(run=main)


def main(a):
    api_client = None
    if a.kubernetes or a.configmap:
        import kubernetes
        if a.kubeconfig or a.context:
            api_client = kubernetes.config.new_client_from_config(a.kubeconfig, a.context)
        else:
            kubernetes.config.load_incluster_config()
            api_client = kubernetes.client.ApiClient()
    cluster_id = a.cluster_id
    if not cluster_id:
        if api_client is None:
            raise SystemExit("strait-mesh controller: --cluster-id is required outside Kubernetes")
        import kubernetes
        cluster_id = kubernetes.client.CoreV1Api(api_client).read_namespace(
            "kube-system").metadata.uid
    cidrs = [x for x in a.pod_cidrs.split(";") if x]
    selector = sm.parse_selector(a.selector)
    source = (InventorySource(a.cluster, a.inventory, cidrs, selector) if a.inventory
              else KubeSource(a.cluster, api_client, cidrs, selector, a.hostsubnets))
    target = FileTarget(a.spec_file) if a.spec_file else ConfigMapTarget(api_client)
    services = None
    if a.manage_services:
        if not a.kubernetes:
            raise SystemExit("strait-mesh controller: --manage-services needs --kubernetes "
                             "(the lab's inventory has its VIPs already)")
        import kubernetes
        import node_services
        services = node_services.ServiceReconciler(
            kubernetes.client.CoreV1Api(api_client), kubernetes.client.DiscoveryV1Api(api_client),
            a.port)
    b = brk.Broker(a.broker.split(","), a.broker_ca, a.broker_cert, a.broker_key,
                   timeout=a.broker_timeout)
    ctl = Controller(a.cluster, cluster_id, source, b, target, ttl=a.ttl,
                     heartbeat=a.heartbeat, interval=a.interval, max_backoff=a.max_backoff,
                     keepalive=a.keepalive, status_file=a.status_file, services=services)
    if a.once:
        ctl.round()
        return 0 if ctl.broker_up else 1
    if a.metrics_listen:
        ctl.serve_metrics(a.metrics_listen)
    print(f"strait-mesh controller: cluster {a.cluster} ({cluster_id}), broker {a.broker}",
          file=sys.stderr, flush=True)
    ctl.run()
    return 0
