#!/usr/bin/env python3
"""One UAPI exchange with a WireGuard device (straitd, wireguard-go) over its Unix socket.

The system tests' and perf's client for what wg(8) and strait-ctl cannot do: a `get=1` whose
reply is read whole (wg(8) skips the strait_ keys, strait-ctl prints them summarised), and a
`set=1` that creates a peer together with its strait_cipher in one request, as strait-agent
does (dataplane/uapi/UAPI.md).

  uapi.py IFNAME|SOCKET get      prints the reply, `errno=0` included
  uapi.py IFNAME|SOCKET set      sends the key=value lines on stdin after `set=1`; exit 1
                                 (and the reply on stderr) unless the device answers errno=0

An IFNAME means /var/run/wireguard/IFNAME.sock. perf/soak.sh imports `get_pairs`.
"""
import socket
import sys


def socket_path(device):
    return device if "/" in device else "/var/run/wireguard/%s.sock" % device


def exchange(device, request, timeout=10):
    """Sends one request (its lines without the ending empty line); returns the whole reply."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(socket_path(device))
        s.sendall(request.rstrip("\n").encode() + b"\n\n")
        reply = b""
        # Every reply ends with "errno=N" and an empty line; one recv may hold only part of it.
        while not reply.endswith(b"\n\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    return reply.decode()


def get_pairs(device):
    """The get=1 reply as (key, value) pairs, in order (device keys, then each peer's)."""
    return [tuple(line.split("=", 1)) for line in exchange(device, "get=1").splitlines() if "=" in line]


def main(argv):
    if len(argv) != 3 or argv[2] not in ("get", "set"):
        sys.stderr.write(__doc__)
        return 2
    device, op = argv[1], argv[2]
    if op == "get":
        sys.stdout.write(exchange(device, "get=1"))
        return 0
    reply = exchange(device, "set=1\n" + sys.stdin.read())
    if "errno=0\n" in reply.splitlines(keepends=True):
        return 0
    sys.stderr.write("uapi.py: %s refused the set request: %s" % (device, reply))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
