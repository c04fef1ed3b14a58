#!/usr/bin/env python3
"""Writes the seed corpus of the new fuzz targets (tests/fuzz/corpus/<target>/), a few valid
inputs each, so that a campaign starts from the paths real traffic takes. The files are
committed; rerun this only when an input format changes:  tests/fuzz/make_seeds.py"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def ip6(a):
    import ipaddress
    return ipaddress.IPv6Address(a).packed


def ipv4(src, dst, proto, l4, df=True, ident=1):
    total = 20 + len(l4)
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ident, 0x4000 if df else 0, 64, proto, 0,
                    ip4(src), ip4(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + l4


def ipv6(src, dst, nh, l4):
    return struct.pack("!IHBB16s16s", 0x60000000, len(l4), nh, 64, ip6(src), ip6(dst)) + l4


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp_syn(sport, dport, mss):
    opts = struct.pack("!BBH", 2, 4, mss)
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, (5 + 1) << 4, 0x02, 65535, 0, 0) + opts


def record(kind, data):
    return struct.pack("<BH", kind, len(data)) + data


def eth(dst, src, ethertype, payload):
    return dst + src + struct.pack("!H", ethertype) + payload


MAC_A = bytes.fromhex("020000000077a0")[:6]
MAC_B = bytes.fromhex("0200000077b0")
POD = bytes.fromhex("0a580a010005")
BRIDGE = bytes.fromhex("0200000000a0")

# Inner packets between the fixture's pods (tests/common/pipeline_fixture.hpp).
small4 = ipv4("10.1.0.5", "10.2.0.7", 17, udp(40000, 53, b"q" * 32))
small6 = ipv6("fd00:a::5", "fd00:b::7", 17, udp(40000, 53, b"q" * 32))
syn4 = ipv4("10.1.0.5", "10.2.0.7", 6, tcp_syn(40000, 80, 1460))
syn6 = ipv6("fd00:a::5", "fd00:b::7", 6, tcp_syn(40000, 80, 1440))
big_df = ipv4("10.1.0.5", "10.2.0.7", 17, udp(40000, 53, b"x" * 1500))
big_nodf = ipv4("10.1.0.5", "10.2.0.7", 17, udp(40000, 53, b"x" * 1500), df=False)
big6 = ipv6("fd00:a::5", "fd00:b::7", 17, udp(40000, 53, b"x" * 1500))
other_peer = ipv4("10.1.0.5", "10.3.0.9", 17, udp(40000, 53, b"q" * 8))
no_route = ipv4("10.1.0.5", "192.168.0.1", 17, udp(40000, 53, b"q" * 8))
arp = eth(b"\xff" * 6, POD, 0x0806,
          struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + POD + ip4("10.1.0.5") + b"\0" * 6 +
          ip4("10.1.0.1"))
ns = eth(bytes.fromhex("3333ff000001"), POD, 0x86DD,
         ipv6("fd00:a::5", "ff02::1:ff00:1", 58,
              bytes([135, 0, 0, 0, 0, 0, 0, 0]) + ip6("fd00:a::1")))

# encap_stage_fuzz: byte 0 = A's setup bits, then records (odd kind: inner packet).
for setup, name in [(0, "chacha_v4"), (1, "aes_v4"), (2, "chacha_outer_v6"), (4, "no_keypair"),
                    (4 | 16, "staging"), (8, "no_endpoint"), (32, "no_bridge_path")]:
    write("encap_stage_fuzz", name,
          bytes([setup]) + record(1, small4) + record(1, small6) + record(1, syn4))
write("encap_stage_fuzz", "too_big", bytes([0]) + record(1, big_df) + record(1, big6))
write("encap_stage_fuzz", "fragment", bytes([1]) + record(1, big_nodf) + record(1, small4))
write("encap_stage_fuzz", "routes", bytes([0]) + record(1, other_peer) + record(1, no_route))
write("encap_stage_fuzz", "arp_ns", bytes([0]) + record(0, arp) + record(0, ns) +
      record(0, eth(POD, BRIDGE, 0x0800, small4)))

# decap_stage_fuzz: byte 0 = B's setup bits, then records (odd kind: inner packet A seals).
for setup, name in [(0, "chacha_v4"), (1, "aes_v4"), (2, "chacha_outer_v6"), (3, "aes_outer_v6"),
                    (4, "next_keypair"), (16, "expired")]:
    write("decap_stage_fuzz", name,
          bytes([setup]) + record(1, small4) + record(1, small6) + record(1, syn4) +
          record(1, syn6))
write("decap_stage_fuzz", "keepalive", bytes([0]) + record(1, b""))
write("decap_stage_fuzz", "src_not_allowed", bytes([0]) +
      record(1, ipv4("10.9.0.5", "10.2.0.7", 17, udp(1, 2, b"z"))))


def outer4(payload, dport=51820):
    u = udp(51820, dport, payload)
    return eth(MAC_B, bytes.fromhex("0200000077a0"), 0x0800,
               ipv4("192.0.2.1", "192.0.2.2", 17, u))


# Handshake-shaped frames go to the slow path; junk of the transport type is refused.
write("decap_stage_fuzz", "handshakes", bytes([0]) +
      record(0, outer4(struct.pack("<I", 1) + b"\0" * 144)) +
      record(0, outer4(struct.pack("<I", 2) + b"\0" * 88)) +
      record(0, outer4(struct.pack("<I", 3) + b"\0" * 60)) +
      record(0, outer4(struct.pack("<II", 4, 0xB2B2B2B2) + b"\0" * 40)))
write("decap_stage_fuzz", "punt", bytes([8]) + record(0, arp) + record(0, outer4(b"x" * 20, 53)))

# uapi_request_fuzz: byte 0 even = set request, odd = get reply.
KEY = "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"
KEY2 = "b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33"
write("uapi_request_fuzz", "set_device", b"\0" + (
    "set=1\nprivate_key=%s\nlisten_port=51820\nfwmark=0\nreplace_peers=true\n\n" % KEY).encode())
write("uapi_request_fuzz", "set_peer", b"\0" + (
    "set=1\npublic_key=%s\npreshared_key=%s\nendpoint=[fd00::1]:51820\n"
    "persistent_keepalive_interval=25\nreplace_allowed_ips=true\nallowed_ip=10.2.0.0/16\n"
    "allowed_ip=fd00:b::/64\nstrait_cipher=aes256-gcm\n\n" % (KEY2, KEY)).encode())
write("uapi_request_fuzz", "set_remove", b"\0" + (
    "set=1\npublic_key=%s\nremove=true\npublic_key=%s\nupdate_only=true\n"
    "endpoint=192.0.2.1:51820\n\n" % (KEY, KEY2)).encode())
write("uapi_request_fuzz", "get_reply", b"\1" + (
    "private_key=%s\nlisten_port=51820\nstrait_drop_replay=3\npublic_key=%s\n"
    "endpoint=192.0.2.2:51820\nlast_handshake_time_sec=1700000000\n"
    "last_handshake_time_nsec=5\ntx_bytes=100\nrx_bytes=200\n"
    "persistent_keepalive_interval=0\nallowed_ip=10.2.0.0/16\nprotocol_version=1\n"
    "strait_cipher=chacha20-poly1305\nerrno=0\n\n" % (KEY, KEY2)).encode())
write("uapi_request_fuzz", "get_error", b"\1errno=-22\n\n")

# mesh_spec_fuzz: the README's example and a two-stack variant.
spec = """clusters:
  - name: a
    pod_cidrs: [10.128.0.0/14]
  - name: b
    pod_cidrs: [10.132.0.0/14, fd00:b::/48]
nodes:
  - name: a1
    cluster: a
    pod_subnet: 10.128.0.0/23
    endpoint: 192.0.2.1:51820
    public_key: AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=
    straitd: true
  - name: b1
    cluster: b
    pod_subnet: fd00:b::/64
    endpoint: "[2001:db8::2]:51820"
    public_key: AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=
    straitd: false
defaults:
  persistent_keepalive: 25
  listen_port: 51820
"""
write("mesh_spec_fuzz", "two_clusters.yaml", spec.encode())
write("mesh_spec_fuzz", "overlap.yaml", spec.replace("10.132.0.0/14", "10.130.0.0/15").encode())
write("mesh_spec_fuzz", "flow.yaml", b"{clusters: [{name: a, pod_cidrs: [10.0.0.0/8]}], nodes: []}")
