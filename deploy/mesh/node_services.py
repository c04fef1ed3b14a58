"""Each node's own VIP, kept by the controller (`strait-mesh controller --manage-services`).

A node the autoscaler adds makes its key and publishes it by itself; what it still lacks is
its LoadBalancer Service and the EndpointSlice that points the Service at it (the shapes of
`strait-mesh services`, strait_mesh.render_services; deploy/README.md says why a Service
without a selector). This reconciler makes them for every selected node that has none, and
removes the ones whose node left the cluster, so that a node joins and leaves the mesh with
no human step. The load balancer then gives the Service its address, the Services informer
sees it, and the node enters the spec on the next round.

It creates and deletes only objects labelled app.kubernetes.io/part-of=strait in
strait-system, and deletes only on a complete view (every informer synced): a partial list
must never look like nodes that left. A Service an operator made by hand for a node is left
as it is. The per-node ConfigMap of `strait-mesh services` (wire-ip annotations) stays that
command's job.
"""
import strait_mesh as sm

PART_OF = ("app.kubernetes.io/part-of", "strait")


def _node_of(obj):
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(sm.NODE_LABEL)


def _ours(obj):
    return ((obj.get("metadata") or {}).get("labels") or {}).get(PART_OF[0]) == PART_OF[1]


def _status_of(e):
    return getattr(e, "status", None)


class ServiceReconciler:
    """`core`: a kubernetes CoreV1Api, `discovery`: a DiscoveryV1Api (or objects with the
    same five methods, in tests)."""

    def __init__(self, core, discovery, port=sm.DEFAULT_PORT):
        self.core, self.discovery, self.port = core, discovery, port
        self.created = 0   # Services made, since start
        self.deleted = 0   # Services removed, since start

    def reconcile(self, nodes, services, complete):
        """nodes: the selected Nodes (dicts); services: the strait Services the informer
        holds (dicts). Returns the problems, one sentence each; never raises for one node."""
        problems = []
        by_node = {}
        for s in services:
            node = _node_of(s)
            if node:
                by_node[node] = s
        present = {n["metadata"]["name"] for n in nodes}
        for n in nodes:
            name = n["metadata"]["name"]
            if name in by_node:
                continue
            try:
                docs = sm.render_services([n], self.port)
            except sm.InputError as e:
                problems.extend(f"VIP for node {name}: {p}" for p in e.problems)
                continue
            service = next(d for d in docs if d["kind"] == "Service")
            slice_ = next(d for d in docs if d["kind"] == "EndpointSlice")
            try:
                # The EndpointSlice first: a Service that exists has an endpoint from the start.
                # One left behind (its Service deleted by hand) may name an old address: it is
                # replaced by the one rendered now.
                if not self._create(self.discovery.create_namespaced_endpoint_slice, slice_):
                    self.discovery.patch_namespaced_endpoint_slice(
                        slice_["metadata"]["name"], sm.NAMESPACE, slice_)
                self._create(self.core.create_namespaced_service, service)
                self.created += 1
            except Exception as e:  # the API refused or is away: say so, retry next round
                problems.append(f"VIP for node {name}: cannot create Service "
                                f"{sm.NAMESPACE}/{service['metadata']['name']}: {_describe(e)}")
        if not complete:
            return problems
        for node, s in sorted(by_node.items()):
            if node in present or not _ours(s):
                continue
            obj = s["metadata"]["name"]
            try:
                self._delete(self.core.delete_namespaced_service, obj)
                self._delete(self.discovery.delete_namespaced_endpoint_slice, obj)
                self.deleted += 1
            except Exception as e:
                problems.append(f"VIP of node {node}, which left: cannot delete Service "
                                f"{sm.NAMESPACE}/{obj}: {_describe(e)}")
        return problems

    @staticmethod
    def _create(call, body):
        """True if made, False if it existed (409: the informer had not seen it yet)."""
        try:
            call(sm.NAMESPACE, body)
            return True
        except Exception as e:
            if _status_of(e) != 409:
                raise
            return False

    @staticmethod
    def _delete(call, name):
        try:
            call(name, sm.NAMESPACE)
        except Exception as e:
            if _status_of(e) != 404:  # 404: gone already
                raise


def _describe(e):
    status, reason = _status_of(e), getattr(e, "reason", None)
    if status is not None:
        return f"HTTP {status} {reason or ''}".strip()
    return f"{type(e).__name__}: {e}"
