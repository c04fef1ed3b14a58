"""The broker: where clusters exchange their node records (DESIGN.md section 5a). It is etcd,
reached over TLS with a client certificate whose common name is the etcd user
`strait-<cluster>`; that user's only role may write `/strait/v1/clusters/<cluster>/` and read
`/strait/v1/`. This module owns the key layout, the record schema and the client; what a
record means for the mesh is controller.py's business.

Keys and values (JSON):
  /strait/v1/clusters/<cluster>/info          {"schema", "cluster", "cluster_id", "pod_cidrs",
                                               "heartbeat"}
  /strait/v1/clusters/<cluster>/nodes/<node>  {"schema", "cluster", "node": <a node entry of
                                               the mesh spec, as strait_mesh.build_spec makes
                                               it>, "updated"}

What detects stale or conflicting data: `schema` (a newer controller's records are not read
as ours), `cluster` (must match the prefix it is under), `cluster_id` (two clusters joined
under one name), `heartbeat` (a cluster whose controller has been silent for longer than the
TTL is left out, never deleted), and etcd's `create_revision` (the first cluster to claim a
CIDR keeps it; a later claimant is refused).
"""

import json

SCHEMA = 1
ROOT = "/strait/v1/"
CLUSTERS = ROOT + "clusters/"


class BrokerError(Exception):
    """The broker could not be reached, or refused the request (permission_denied is set
    when etcd's authorisation refused it: a role writing outside its prefix)."""

    def __init__(self, message, permission_denied=False):
        super().__init__(message)
        self.permission_denied = permission_denied


def cluster_prefix(cluster):
    return f"{CLUSTERS}{cluster}/"


def info_key(cluster):
    return cluster_prefix(cluster) + "info"


def node_key(cluster, node):
    return cluster_prefix(cluster) + "nodes/" + node


def etcd_user(cluster):
    """The etcd user (= the client certificate's CN) and role of a cluster's controller."""
    return f"strait-{cluster}"


class Entry:
    """One key as read: its decoded value and etcd's revisions."""

    def __init__(self, key, value, create_revision, mod_revision):
        self.key = key
        self.value = value
        self.create_revision = create_revision
        self.mod_revision = mod_revision


def parse_key(key):
    """(cluster, kind, node) of a key under CLUSTERS, kind 'info' or 'node'; None otherwise."""
    if not key.startswith(CLUSTERS):
        return None
    parts = key[len(CLUSTERS):].split("/")
    if len(parts) == 2 and parts[1] == "info":
        return parts[0], "info", None
    if len(parts) == 3 and parts[1] == "nodes" and parts[2]:
        return parts[0], "node", parts[2]
    return None


def encode(value):
    """Canonical JSON: equal records are equal bytes (a rewrite of the same record is seen as
    no change, and no write is made)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def etcd_client(endpoint, ca, cert, key, timeout):
    import etcd3  # Debian python3-etcd3; imported here so that tests of the rest need none
    host, _, port = endpoint.rpartition(":")
    return etcd3.client(host=host, port=int(port), ca_cert=ca, cert_key=key, cert_cert=cert,
                        timeout=timeout)


class Broker:
    """A client of the etcd members at `endpoints` ("host:port"): each call goes to the
    current member and, when that one fails, to the next (a killed member costs one
    timeout). Not thread-safe: one controller loop owns it.

    A failed member's client is closed and a new one made when it is next tried: a kept gRPC
    channel was seen to stay down long after its member returned (lab_broker, after a 60 s
    outage). Known defect: gRPC Python (Debian 1.51) sometimes kills the process with a trap
    inside cygrpc when every member goes away at once; a Deployment (or the lab's supervisor,
    deploy/lab/broker.sh) starts the controller again, which keeps the last spec in force."""

    def __init__(self, endpoints, ca, cert, key, timeout=2.0, connect=etcd_client):
        if not endpoints:
            raise ValueError("no broker endpoints")
        self.endpoints = list(endpoints)
        self.ca, self.cert, self.key, self.timeout = ca, cert, key, timeout
        self.connect = connect
        self.current = 0
        self.client = None

    def _call(self, what, fn):
        errors = []
        for _ in range(len(self.endpoints)):
            if self.client is None:
                self.client = self.connect(self.endpoints[self.current], self.ca, self.cert,
                                           self.key, self.timeout)
            try:
                return fn(self.client)
            except Exception as e:  # grpc.RpcError and etcd3's translations of it
                code = getattr(e, "code", None)
                name = getattr(code(), "name", "") if callable(code) else ""
                if name == "PERMISSION_DENIED":
                    raise BrokerError(f"{what}: etcd refused: permission denied "
                                      f"({e.details() if hasattr(e, 'details') else e})",
                                      permission_denied=True) from e
                errors.append(f"{self.endpoints[self.current]}: {name or type(e).__name__}")
                self.close()
                self.current = (self.current + 1) % len(self.endpoints)
        raise BrokerError(f"{what}: no broker member answered ({'; '.join(errors)})")

    def close(self):
        if self.client is not None:
            try:
                self.client.close()
            except Exception:  # a channel that never connected
                pass
            self.client = None

    def read_all(self):
        """Every cluster's keys: a list of Entry (values that are not JSON are kept as None
        and reported by the reader)."""
        def run(c):
            out = []
            for raw, meta in c.get_prefix(CLUSTERS):
                try:
                    value = json.loads(raw)
                except ValueError:
                    value = None
                out.append(Entry(meta.key.decode(), value, meta.create_revision,
                                 meta.mod_revision))
            return out
        return self._call(f"read {CLUSTERS}", run)

    def put(self, key, value):
        self._call(f"write {key}", lambda c: c.put(key, encode(value)))

    def delete(self, key):
        self._call(f"delete {key}", lambda c: c.delete(key))

    def delete_prefix(self, prefix):
        self._call(f"delete {prefix}*", lambda c: c.delete_prefix(prefix))
