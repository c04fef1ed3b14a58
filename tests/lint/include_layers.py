#!/usr/bin/env python3
"""The include rule of docs/LAYERS.md: a file includes only its own room or a lower one.

Reads every C/C++ source and header under dataplane/, control/ and ebpf/, finds each
`#include "room/..."`, and fails with file:line for every include that runs sideways or
upwards. An arrow listed in KNOWN is reported but allowed (none today); the check also fails
when a listed one is gone, so the list only shrinks.

Usage: include_layers.py [REPO_ROOT]   (default: two folders above this file)
"""
import os
import re
import sys

# Room -> level. A room may include rooms of a strictly lower level, and itself.
LEVELS = {
    "base": 0,           # dataplane/base/: Result, keys, drop reasons, IpPrefix, clock
    "crypto": 1,         # primitives and the AEAD burst engine (libsodium, ipsec-mb)
    "packet": 1,         # header parsing over bytes
    "dpdk": 1,           # EAL, ports, mempools, workers, RCU, counters
    "observability": 1,  # version, JSON logs, the metrics endpoint
    "ebpf": 1,           # the XDP program's loader
    "core": 2,           # the sans-I/O protocol core: messages, Noise, timers, tables
    "uapi": 3,           # the WireGuard configuration protocol, its server and client
    "device": 4,         # the sans-I/O device: peers, handshakes, timers
    "pipeline": 4,       # the burst stages
    "straitd": 5,        # the data-plane program
    "control": 5,        # strait-agent
}

# (file, included room): arrows against the rule that are allowed for now. Empty: keep it so.
KNOWN = {}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
SOURCES = (".hpp", ".cpp", ".h", ".c", ".def", ".inc")


def room_of(rel):
    parts = rel.split("/")
    if parts[0] == "dataplane":
        # A source at the dataplane/ top has no room (only meson.build and the rooms live there).
        return parts[1] if len(parts) > 2 else "dataplane/ top"
    return parts[0]


def target_room(included):
    head = included.split("/")[0]
    return head if "/" in included and head in LEVELS else None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    root = os.path.abspath(root)
    bad, known_seen = [], set()
    for top in ("dataplane", "control", "ebpf"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                if not name.endswith(SOURCES):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                src = room_of(rel)
                if src not in LEVELS:
                    bad.append(f"{rel}: room '{src}' has no level in tests/lint/include_layers.py "
                               "(add it there and to docs/LAYERS.md)")
                    continue
                with open(path, encoding="utf-8", errors="replace") as f:
                    for n, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        dst = target_room(m.group(1))
                        if dst is None or dst == src or LEVELS[dst] < LEVELS[src]:
                            continue
                        if (rel, dst) in KNOWN:
                            known_seen.add((rel, dst))
                            continue
                        bad.append(f"{rel}:{n}: {src} (level {LEVELS[src]}) includes "
                                   f"\"{m.group(1)}\" of {dst} (level {LEVELS[dst]}): a room includes "
                                   "only itself and lower rooms (docs/LAYERS.md)")
    for gone in sorted(set(KNOWN) - known_seen):
        bad.append(f"{gone[0]} no longer includes {gone[1]}: remove it from KNOWN in "
                   "tests/lint/include_layers.py and docs/LAYERS.md")
    for (rel, dst), why in sorted(KNOWN.items()):
        if (rel, dst) in known_seen:
            print(f"known, to remove: {rel} -> {dst} ({why})")
    if bad:
        print("\n".join(bad), file=sys.stderr)
        return 1
    print("include_layers: every include runs to the same or a lower room")
    return 0


if __name__ == "__main__":
    sys.exit(main())
