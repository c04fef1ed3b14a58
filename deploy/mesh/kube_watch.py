"""A cache of one kind of Kubernetes object kept current by list + watch, as client-go's
informers do: list once (the cache and a resourceVersion), then watch from that version;
ADDED/MODIFIED/DELETED change the cache, BOOKMARK moves the version, a dropped connection
resumes the watch from the last version seen, and only `410 Gone` (the version was compacted
away) forces a new list. Objects stay plain dicts, as `kubectl get -o json` prints them, so
that strait_mesh's readers take them unchanged.

Tested against recorded API responses (tests/deploy/kube_watch_test.py): no API server runs
on the build machines.
"""

import json

GONE = 410


class Gone(Exception):
    """The watch's resourceVersion is too old: list again."""


def object_key(obj):
    meta = obj.get("metadata", {})
    ns = meta.get("namespace")
    return f"{ns}/{meta['name']}" if ns else meta["name"]


class Informer:
    """`list_fn()` -> the List object (dict); `watch_fn(resource_version)` -> an iterable of
    watch events (dicts), ending when the server closes the stream. Both raise on transport
    errors; a 410 is raised as Gone or delivered as an ERROR event."""

    def __init__(self, what, list_fn, watch_fn):
        self.what = what
        self.list_fn = list_fn
        self.watch_fn = watch_fn
        self.objects = {}
        self.resource_version = None
        self.synced = False      # the cache holds a complete list
        self.relists = 0
        self.last_error = None

    def relist(self):
        doc = self.list_fn()
        self.objects = {object_key(o): o for o in doc.get("items") or []}
        self.resource_version = (doc.get("metadata") or {}).get("resourceVersion")
        self.synced = True
        self.relists += 1

    def apply(self, event):
        """One watch event; raises Gone for an ERROR 410."""
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            code = obj.get("code")
            if code == GONE:
                raise Gone(obj.get("message", "resource version too old"))
            raise RuntimeError(f"{self.what}: watch error {code}: {obj.get('message')}")
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if kind in ("ADDED", "MODIFIED"):
            self.objects[object_key(obj)] = obj
        elif kind == "DELETED":
            self.objects.pop(object_key(obj), None)
        elif kind != "BOOKMARK":
            return
        if rv:
            self.resource_version = rv

    def step(self, on_change=None):
        """One list-if-needed and one watch stream until it ends. Returns normally when the
        stream ended (the caller calls again); a transport error is kept in last_error and
        the cache stays as it was (complete up to resource_version)."""
        try:
            if not self.synced:
                self.relist()
                if on_change:
                    on_change()
            for event in self.watch_fn(self.resource_version):
                self.apply(event)
                if on_change:
                    on_change()
            self.last_error = None
        except Gone as e:
            self.synced = False
            self.last_error = f"{self.what}: 410 Gone ({e}): listing again"
        except Exception as e:  # a dropped connection, a timeout: resume from the version
            if getattr(e, "status", None) == GONE:
                self.synced = False
            self.last_error = f"{self.what}: {type(e).__name__}: {e}"


# ---------------------------------------------------------------- the real API, through the
# Kubernetes client library (Debian python3-kubernetes): it brings kubeconfig contexts,
# in-cluster service-account tokens and TLS; we take the raw JSON.

def watch_lines(response):
    """The JSON events of a watch response, one per line, until the server closes it."""
    buf = b""
    try:
        for chunk in response.stream(4096, decode_content=True):
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    yield json.loads(line)
        if buf.strip():
            yield json.loads(buf)
    finally:
        response.release_conn()


def api_informer(what, list_call, timeout_seconds=300, **kwargs):
    """An Informer over a generated client method (CoreV1Api.list_node, ...)."""
    from kubernetes.client.rest import ApiException

    def list_fn():
        r = list_call(_preload_content=False, **kwargs)
        return json.loads(r.data)

    def watch_fn(rv):
        try:
            r = list_call(watch=True, resource_version=rv, allow_watch_bookmarks=True,
                          timeout_seconds=timeout_seconds, _preload_content=False, **kwargs)
        except ApiException as e:
            if e.status == GONE:
                raise Gone(e.reason) from e
            raise
        return watch_lines(r)

    return Informer(what, list_fn, watch_fn)
