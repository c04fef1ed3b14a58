"""strait-mesh join / leave / status / diagnose / rotate-key / publish-key: the operator's
commands around the broker and the controller (deploy/README.md walks through them).

  join         a cluster joins the broker, like `subctl join`: on the broker (etcdctl with the
               broker's admin certificate) the etcd user and role strait-<cluster>, which may
               write only /strait/v1/clusters/<cluster>/ and read /strait/v1/; in the cluster
               (a kubeconfig context) the Secret with the cluster's broker client certificate
               and the controller's settings. --out writes those manifests instead.
  leave        a cluster's records leave the broker (its peers go everywhere); stop its
               controller first, or it publishes them again.
  status       per cluster: controller and broker state, spec generation, refusals; per peer
               of a node's interface, by node name: handshake age, endpoint, cipher; keys
               that do not match.
  diagnose     the usual faults: overlapping CIDRs, clock skew, stale clusters, peers whose
               VIP never answers, MTU, nodes without a pod subnet (CNI not supported).
  rotate-key   on a node: a new private key in the key file and in straitd, the new public
               key in the public-key file; publish-key (or the lab's inventory) carries it on.
  publish-key  on a node (a DaemonSet container): keeps the Node annotation
               strait.io/public-key equal to the public-key file straitd writes.
"""

import base64
import json
import os
import subprocess
import sys
import time

import broker as brk
import controller as ctl
import strait_mesh as sm

BROKER_SECRET = "strait-broker"
CONTROLLER_CONFIGMAP = "strait-controller"


# ---------------------------------------------------------------- files and tools

def wg(args, stdin):
    try:
        return subprocess.run(["wg", *args], input=stdin, capture_output=True, text=True,
                              check=True).stdout.strip()
    except FileNotFoundError as e:
        raise SystemExit("strait-mesh: wg not found (apt-get install wireguard-tools)") from e
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"strait-mesh: wg {' '.join(args)} failed: {e.stderr.strip()}") from e


def write_private(path, text):
    """A file only its owner may read (a private key, the broker credentials)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


# ---------------------------------------------------------------- broker access

def add_broker_args(p, who="the cluster's"):
    p.add_argument("--broker", required=True, help="etcd members, host:port[,host:port...]")
    p.add_argument("--broker-ca", required=True, help="CA of the etcd members (PEM)")
    p.add_argument("--broker-cert", required=True, help=f"{who} client certificate (PEM)")
    p.add_argument("--broker-key", required=True, help="its private key (PEM)")


def broker_of(a):
    return brk.Broker(a.broker.split(","), a.broker_ca, a.broker_cert, a.broker_key)


def etcdctl(a, *args):
    """etcdctl as the broker's admin (the certificate's CN is etcd's root user)."""
    cmd = ["etcdctl", "--endpoints", ",".join(f"https://{e}" for e in a.broker.split(",")),
           "--cacert", a.broker_ca, "--cert", a.admin_cert, "--key", a.admin_key,
           "--dial-timeout", "3s", "--command-timeout", "5s", *args]
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "ETCDCTL_API": "3"})
    return r.returncode, (r.stdout + r.stderr).strip()


def certificate_cn(path):
    r = subprocess.run(["openssl", "x509", "-noout", "-subject", "-nameopt", "multiline",
                        "-in", path], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        if line.strip().startswith("commonName"):
            return line.split("=", 1)[1].strip()
    return None


# ---------------------------------------------------------------- join / leave

def cmd_join(a):
    user = brk.etcd_user(a.cluster)
    cn = certificate_cn(a.broker_cert)
    if cn != user:
        raise SystemExit(f"strait-mesh join: {a.broker_cert}: its CN is {cn!r}, etcd will take "
                         f"it as that user; cluster {a.cluster} needs CN={user}")
    # Refuse before anything is made: a name or CIDR another cluster holds.
    reader = brk.Broker(a.broker.split(","), a.broker_ca, a.admin_cert or a.broker_cert,
                        a.admin_key or a.broker_key)
    entries = reader.read_all()
    cidrs = [x for x in a.pod_cidrs.split(";") if x]
    probe = [e for e in entries if not e.key.startswith(brk.cluster_prefix(a.cluster))]
    probe.append(brk.Entry(brk.info_key(a.cluster), {"schema": brk.SCHEMA,
                           "cluster": a.cluster, "pod_cidrs": cidrs, "heartbeat": time.time()},
                           1 << 62, 1 << 62))
    _, refusals = ctl.merge(probe, time.time(), float("inf"))
    mine = [r for r in refusals if f"cluster {a.cluster}:" in r.text]
    if mine:
        raise SystemExit("strait-mesh join: refused: " + "; ".join(r.text for r in mine))
    if a.admin_cert:
        prefix = brk.cluster_prefix(a.cluster)
        steps = [("role", "add", user),
                 ("role", "grant-permission", user, "--prefix=true", "readwrite", prefix),
                 ("role", "grant-permission", user, "--prefix=true", "read", brk.ROOT),
                 ("user", "add", user, "--no-password"),
                 ("user", "grant-role", user, user)]
        for step in steps:
            rc, out = etcdctl(a, *step)
            if rc != 0 and "already exists" not in out:
                raise SystemExit(f"strait-mesh join: etcdctl {' '.join(step)}: {out}")
        print(f"strait-mesh join: broker: user and role {user}: write {prefix}, read {brk.ROOT}",
              file=sys.stderr)
    docs = join_manifests(a.cluster, a.broker, cidrs, a.broker_ca, a.broker_cert, a.broker_key,
                          a.hostsubnets)
    if a.out:
        write_private(a.out, sm.dump_documents(docs))
        print(f"strait-mesh join: {a.out}: apply it in cluster {a.cluster} "
              "(kubectl apply -f) beside deploy/k8s, whose controller "
              "Deployment waits for them", file=sys.stderr)
    elif a.context:
        apply_in_cluster(a.kubeconfig, a.context, docs)
        print(f"strait-mesh join: context {a.context}: Secret {sm.NAMESPACE}/{BROKER_SECRET} and "
              f"ConfigMap {sm.NAMESPACE}/{CONTROLLER_CONFIGMAP} applied", file=sys.stderr)
    return 0


def join_manifests(cluster, endpoints, cidrs, ca, cert, key, hostsubnets):
    def b64(path):
        with open(path, "rb") as f:
            return base64.b64encode(f.read()).decode()
    labels = {"app.kubernetes.io/part-of": "strait"}
    return [
        {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
         "metadata": {"name": BROKER_SECRET, "namespace": sm.NAMESPACE, "labels": labels},
         # The cluster's broker credentials: read only by the controller's ServiceAccount.
         "data": {"ca.crt": b64(ca), "tls.crt": b64(cert), "tls.key": b64(key)}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": CONTROLLER_CONFIGMAP, "namespace": sm.NAMESPACE, "labels": labels},
         "data": {"cluster": cluster, "broker": endpoints, "pod-cidrs": ";".join(cidrs),
                  "hostsubnets": "true" if hostsubnets else "false"}},
    ]


def apply_in_cluster(kubeconfig, context, docs):
    import kubernetes
    api = kubernetes.client.CoreV1Api(
        kubernetes.config.new_client_from_config(kubeconfig, context))
    for d in docs:
        name, ns = d["metadata"]["name"], d["metadata"]["namespace"]
        create = api.create_namespaced_secret if d["kind"] == "Secret" \
            else api.create_namespaced_config_map
        replace = api.replace_namespaced_secret if d["kind"] == "Secret" \
            else api.replace_namespaced_config_map
        try:
            create(ns, d)
        except kubernetes.client.rest.ApiException as e:
            if e.status != 409:
                raise
            replace(name, ns, d)


def cmd_leave(a):
    b = broker_of(a)
    b.delete_prefix(brk.cluster_prefix(a.cluster))
    print(f"strait-mesh leave: cluster {a.cluster}'s records removed from the broker; every "
          "other cluster's controller drops its nodes at its next round", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- status / diagnose

def wg_dump(ifname):
    r = subprocess.run(["wg", "show", ifname, "dump"], capture_output=True, text=True)
    if r.returncode != 0:
        return None, []
    lines = r.stdout.strip().splitlines()
    own = lines[0].split("\t")[1] if lines else None
    return own, [line.split("\t") for line in lines[1:]]


def load_status(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        return {"error": f"{path}: {e}"}


def agent_state(name, url, timeout=3):
    """One line on an agent, from its /healthz and /metrics (control/README.md)."""
    import urllib.error
    import urllib.request
    base = url.rstrip("/")
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=timeout) as r:
            ready = "ready" if r.status == 200 else f"NOT READY ({r.status})"
    except urllib.error.HTTPError as e:
        ready = f"NOT READY ({e.code})"
    except OSError as e:
        return f"agent {name}: UNREACHABLE at {base} ({e})"
    values = {}
    try:
        with urllib.request.urlopen(base + "/metrics", timeout=timeout) as r:
            for line in r.read().decode().splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] in ("strait_agent_spec_generation",
                                                    "strait_agent_spec_rejected_total"):
                    values[parts[0]] = parts[1]
    except OSError:
        pass
    return (f"agent {name}: {ready}, spec generation "
            f"{values.get('strait_agent_spec_generation', '?')}, specs rejected "
            f"{values.get('strait_agent_spec_rejected_total', '?')}")


def cmd_status(a):
    now = time.time()
    entries = broker_of(a).read_all()
    spec, refusals = ctl.merge(entries, now, a.ttl)
    infos = {brk.parse_key(e.key)[0]: e for e in entries
             if brk.parse_key(e.key) and brk.parse_key(e.key)[1] == "info"}
    print("clusters (broker):")
    for name, e in sorted(infos.items()):
        n = sum(1 for x in spec["nodes"] if x["cluster"] == name)
        beat = now - float((e.value or {}).get("heartbeat") or 0)
        print(f"  {name:10} nodes {n:3}  heartbeat {beat:6.0f} s ago  "
              f"pod_cidrs {', '.join((e.value or {}).get('pod_cidrs') or [])}")
    for r in refusals:
        print(f"  REFUSED ({r.reason}) {r.text}")
    for path in a.controller_status or []:
        s = load_status(path)
        state = "broker up" if s.get("broker_up") else f"BROKER DOWN: {s.get('error')}"
        print(f"controller {s.get('cluster', path)}: {state}; spec generation "
              f"{s.get('spec_generation')} ({len(s.get('spec_nodes') or [])} nodes); "
              f"problems {len(s.get('problems') or [])}")
        for p in s.get("problems") or []:
            print(f"  node problem: {p}")
    for pair in a.agent or []:
        name, _, url = pair.partition("=")
        print(agent_state(name, url))
    by_key = {n["public_key"]: n for n in spec["nodes"]}
    for ifname in a.ifname or []:
        own, peers = wg_dump(ifname)
        me = by_key.get(own)
        print(f"{ifname}: {'node ' + me['cluster'] + '/' + me['name'] if me else 'OWN KEY NOT IN THE BROKER: ' + str(own)}")
        for p in peers:
            key, endpoint, handshake = p[0], p[2], int(p[4] or 0)
            n = by_key.get(key)
            who = f"{n['cluster']}/{n['name']}" if n else f"unknown key {key[:10]}..."
            age = f"{now - handshake:.0f} s ago" if handshake else "never"
            cipher = ("aes256-gcm" if n and n.get("straitd") and me and me.get("straitd")
                      else "chacha20-poly1305")
            mismatch = "" if not n or n.get("endpoint") == endpoint or endpoint == "(none)" \
                else f"  (broker says endpoint {n['endpoint']})"
            print(f"  peer {who:14} handshake {age:12} endpoint {endpoint:22} {cipher}{mismatch}")
        wanted = {n["public_key"] for n in spec["nodes"] if not me or n["cluster"] != me["cluster"]}
        for k in sorted(wanted - {p[0] for p in peers}):
            print(f"  MISSING peer {by_key[k]['cluster']}/{by_key[k]['name']} (key {k[:10]}...)")
    return 0


def diagnose_findings(spec, refusals, infos, now, peers_by_if, mtus, skew_limit=10.0,
                      handshake_limit=180.0):
    """Every finding as one sentence (pure: tests/deploy/mesh_ops_test.py)."""
    out = [f"{r.reason}: {r.text}" for r in refusals]
    for name, e in sorted(infos.items()):
        beat = float((e.value or {}).get("heartbeat") or 0)
        if beat - now > skew_limit:
            out.append(f"clock skew: cluster {name}'s heartbeat is {beat - now:.0f} s in the "
                       "future: its clock or ours is wrong (check NTP on both)")
    by_key = {n["public_key"]: n for n in spec["nodes"]}
    for ifname, peers in sorted(peers_by_if.items()):
        for p in peers:
            n = by_key.get(p[0])
            handshake = int(p[4] or 0)
            if n and (not handshake or now - handshake > handshake_limit):
                out.append(f"{ifname}: peer {n['cluster']}/{n['name']}: no handshake "
                           f"{'ever' if not handshake else 'for %d s' % (now - handshake)}: its "
                           f"VIP {n['endpoint']} may not reach the node (LoadBalancer address, "
                           "externalTrafficPolicy, a firewall on UDP)")
    for ifname, (tunnel, wire) in sorted(mtus.items()):
        if tunnel is not None and wire is not None and tunnel + 80 > wire:
            out.append(f"mtu: {ifname}: tunnel MTU {tunnel} + 80 bytes of WireGuard over IPv6 "
                       f"exceeds the wire's {wire}: lower the pod MTU to {wire - 80}")
    return out


def unsupported_cni(nodes):
    """Nodes with no pod subnet strait can read (spec.podCIDR, HostSubnet, OVN annotation)."""
    out = []
    for n in nodes:
        ann = (n.get("metadata") or {}).get("annotations") or {}
        if not (n.get("spec") or {}).get("podCIDR") and "k8s.ovn.org/node-subnets" not in ann:
            out.append(f"cni: node {n['metadata']['name']}: no spec.podCIDR and no OVN "
                       "node-subnets annotation: the CNI is not one strait reads (OpenShift SDN "
                       "needs --hostsubnets)")
    return out


def cmd_diagnose(a):
    now = time.time()
    entries = broker_of(a).read_all()
    spec, refusals = ctl.merge(entries, now, a.ttl)
    infos = {brk.parse_key(e.key)[0]: e for e in entries
             if brk.parse_key(e.key) and brk.parse_key(e.key)[1] == "info"}
    peers = {i: wg_dump(i)[1] for i in a.ifname or []}
    mtus = {}
    for pair in a.mtu or []:
        name, _, values = pair.partition("=")
        t, _, w = values.partition(",")
        mtus[name] = (int(t), int(w))
    findings = diagnose_findings(spec, refusals, infos, now, peers, mtus)
    if a.nodes:
        findings += unsupported_cni(sm.read_nodes(a.nodes, {}))
    for f in findings:
        print(f)
    if not findings:
        print("strait-mesh diagnose: nothing found")
    return 1 if findings else 0


# ---------------------------------------------------------------- keys on the node

def cmd_rotate_key(a):
    """A new key: written beside the old file and renamed over it (0600), then given to
    straitd over its UAPI (`wg set`), so that a restart loads the same key straitd uses."""
    new = wg(["genkey"], None)
    tmp = a.key_file + ".new"
    if os.path.exists(tmp):
        os.unlink(tmp)
    write_private(tmp, new + "\n")
    os.replace(tmp, a.key_file)
    r = subprocess.run(["wg", "set", a.ifname, "private-key", a.key_file],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"strait-mesh rotate-key: wg set {a.ifname}: {r.stderr.strip()}")
    public = wg(["pubkey"], new + "\n")
    with open(a.public_key_file + ".tmp", "w", encoding="utf-8") as f:
        f.write(public + "\n")
    os.replace(a.public_key_file + ".tmp", a.public_key_file)
    print(f"strait-mesh rotate-key: {a.ifname}: new public key {public}", file=sys.stderr)
    return 0


def cmd_publish_key(a):
    import kubernetes
    try:
        kubernetes.config.load_incluster_config()
        api = kubernetes.client.CoreV1Api()
    except kubernetes.config.ConfigException:
        api = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config())
    last = None
    while True:
        try:
            with open(a.public_key_file, encoding="utf-8") as f:
                key = f.read().strip()
        except OSError:
            key = None
        if key and key != last:
            api.patch_node(a.node, {"metadata": {"annotations": {
                ctl.PUBLIC_KEY_ANNOTATION: key}}})
            print(f"strait-mesh publish-key: node {a.node}: {key}", file=sys.stderr, flush=True)
            last = key
        if a.once:
            return 0
        time.sleep(a.interval)


# ---------------------------------------------------------------- command line

def _broker_errors_exit(fn):
    def run(a):
        try:
            return fn(a)
        except brk.BrokerError as e:
            raise SystemExit(f"strait-mesh {a.command}: {e}") from e
    return run


def add_parsers(sub):
    j = sub.add_parser("join", help="a cluster joins the broker (etcd user/role, Secret)")
    j.add_argument("--cluster", required=True, help="the cluster's name in the mesh")
    add_broker_args(j)
    j.add_argument("--admin-cert", help="the broker admin's client certificate (CN root): "
                   "makes the cluster's etcd user and role")
    j.add_argument("--admin-key", help="its private key")
    j.add_argument("--pod-cidrs", required=True, help="the cluster's pod CIDRs, CIDR[;CIDR]")
    j.add_argument("--hostsubnets", action="store_true", help="OpenShift SDN")
    j.add_argument("--kubeconfig", help="kubeconfig file")
    j.add_argument("--context", help="kubeconfig context of the joining cluster")
    j.add_argument("--out", help="write the cluster's manifests here (0600) instead")
    j.set_defaults(run=_broker_errors_exit(cmd_join))

    lv = sub.add_parser("leave", help="remove a cluster's records from the broker")
    lv.add_argument("--cluster", required=True)
    add_broker_args(lv)
    lv.set_defaults(run=_broker_errors_exit(cmd_leave))

    for name, fn, text in (("status", cmd_status, "clusters, controllers, peers by node name"),
                           ("diagnose", cmd_diagnose, "the usual faults")):
        s = sub.add_parser(name, help=text)
        add_broker_args(s, "any cluster's")
        s.add_argument("--ttl", type=float, default=7 * 86400)
        s.add_argument("--controller-status", action="append",
                       help="a controller's --status-file (or its /status saved)")
        s.add_argument("--ifname", action="append", help="a local straitd/wg interface")
        s.add_argument("--agent", action="append", metavar="NODE=URL",
                       help="an agent's metrics address (http://NODE_IP:9477): ready, spec "
                       "generation, specs rejected")
        if name == "diagnose":
            s.add_argument("--mtu", action="append", metavar="IF=TUNNEL,WIRE",
                           help="tunnel and wire MTU of a node")
            s.add_argument("--nodes", help="`kubectl get nodes -o json` (CNI check)")
        s.set_defaults(run=_broker_errors_exit(fn))

    r = sub.add_parser("rotate-key", help="on a node: a new private key for straitd")
    r.add_argument("--ifname", required=True, help="straitd's interface (UAPI) name")
    r.add_argument("--key-file", required=True, help="straitd's --private-key-file")
    r.add_argument("--public-key-file", required=True, help="straitd's --public-key-file")
    r.set_defaults(run=cmd_rotate_key)

    p = sub.add_parser("publish-key", help="on a node: annotate the Node with the public key")
    p.add_argument("--node", required=True)
    p.add_argument("--public-key-file", required=True)
    p.add_argument("--interval", type=float, default=5)
    p.add_argument("--once", action="store_true")
    p.set_defaults(run=cmd_publish_key)
