#!/usr/bin/env bash
# Interop proof: strait's sans-I/O Device (driven over a plain UDP socket by
# wg_interop_driver) against the reference implementation, wireguard-go, configured with the
# stock wg(8). Suite 'system'; needs root. Nothing touches the host: both ends live in their
# own network namespaces, and wireguard-go's UAPI socket directory is a tmpfs private to its
# mount namespace (so a host's own wg0 is never seen or disturbed).
#
#   netns stwg-drv<pid>                               netns stwg-peer<pid>
#   ┌──────────────────────────────┐                 ┌──────────────────────────────────────┐
#   │ wg_interop_driver            │   veth pair     │ wireguard-go wg0  10.77.0.2/24        │
#   │  strait Device               │                 │   peer = the driver's public key      │
#   │  UDP 10.99.0.1:51001   vd<pid>├────────────────┤vp<pid> 10.99.0.2  (wg listens :51002) │
#   │  tunnel address 10.77.0.1    │                 │ kernel answers ping on wg0            │
#   └──────────────────────────────┘                 └──────────────────────────────────────┘
#
#   (a) driver as INITIATOR: ICMP echo request to 10.77.0.2 through Device::send; the
#       handshake completes and the peer kernel's echo reply comes back through the tunnel.
#   (b) driver as RESPONDER: `ping -c 3 10.77.0.1` in the peer namespace; wireguard-go
#       initiates, the driver responds and answers every echo request through the tunnel.
#   After each: `wg show wg0 latest-handshakes` in the peer namespace is non-zero for the
#   driver's key. Default transport (ChaCha20-Poly1305). Generous timeouts, no timing asserts.
#
# Usage: wireguard_go_test.sh <path to wg_interop_driver>. Exit 77 (meson: skipped) when not
# root or a tool is missing.
set -euo pipefail

driver=${1:?usage: $0 <wg_interop_driver>}

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, TUN)"
for tool in wireguard-go wg ip ping nsenter unshare od; do
  command -v "$tool" > /dev/null || skip "$tool is not installed"
done
[ -c /dev/net/tun ] || skip "/dev/net/tun is missing"
[ -x "$driver" ] || { echo "FAIL: driver $driver is not executable"; exit 1; }

id=$$
peer_ns=stwg-peer$id
drv_ns=stwg-drv$id
veth_drv=vd$id
veth_peer=vp$id
drv_ip=10.99.0.1 drv_port=51001
peer_ip=10.99.0.2 peer_port=51002
drv_tun=10.77.0.1 peer_tun=10.77.0.2
work=$(mktemp -d /tmp/stwg-interop.XXXXXX)
wg_pid=""
drv_pid=""

cleanup() {
  local rc=$?
  set +e
  [ -n "$drv_pid" ] && kill "$drv_pid" 2> /dev/null && wait "$drv_pid" 2> /dev/null
  if [ -n "$wg_pid" ]; then
    kill "$wg_pid" 2> /dev/null
    wait "$wg_pid" 2> /dev/null
  fi
  ip netns del "$peer_ns" 2> /dev/null
  ip netns del "$drv_ns" 2> /dev/null
  if [ "$rc" -ne 0 ] && [ -f "$work/wireguard-go.log" ]; then
    echo "---- wireguard-go log"
    tail -n 40 "$work/wireguard-go.log"
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*"; exit 1; }
b64_to_hex() { echo "$1" | base64 -d | od -An -tx1 -v | tr -d ' \n'; }

# wg(8) inside wireguard-go's network and mount namespaces (its UAPI socket is there).
peer_wg() { nsenter --target "$wg_pid" --net --mount wg "$@"; }
in_peer() { ip netns exec "$peer_ns" "$@"; }
in_drv() { ip netns exec "$drv_ns" "$@"; }

# ---- keys
drv_priv=$(wg genkey)
drv_pub=$(echo "$drv_priv" | wg pubkey)
peer_priv=$(wg genkey)
peer_pub=$(echo "$peer_priv" | wg pubkey)
echo "$peer_priv" > "$work/peer.key"
chmod 600 "$work/peer.key"

# ---- namespaces and the veth pair
ip netns add "$peer_ns"
ip netns add "$drv_ns"
ip link add "$veth_drv" netns "$drv_ns" type veth peer name "$veth_peer" netns "$peer_ns"
in_drv ip link set lo up
in_drv ip addr add "$drv_ip/24" dev "$veth_drv"
in_drv ip link set "$veth_drv" up
in_peer ip link set lo up
in_peer ip addr add "$peer_ip/24" dev "$veth_peer"
in_peer ip link set "$veth_peer" up

# ---- wireguard-go in the peer namespace, with a private /run for its UAPI socket
ip netns exec "$peer_ns" unshare --mount --propagation private \
  sh -c 'mount -t tmpfs tmpfs /run && exec env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=debug wireguard-go wg0' \
  > "$work/wireguard-go.log" 2>&1 &
wg_pid=$!
for _ in $(seq 1 100); do
  nsenter --target "$wg_pid" --mount test -S /run/wireguard/wg0.sock 2> /dev/null && break
  kill -0 "$wg_pid" 2> /dev/null || fail "wireguard-go exited at start"
  sleep 0.1
done
nsenter --target "$wg_pid" --mount test -S /run/wireguard/wg0.sock || fail "wireguard-go has no UAPI socket"

configure_peer() {
  peer_wg set wg0 private-key "$work/peer.key" listen-port "$peer_port" \
    peer "$drv_pub" allowed-ips "$drv_tun/32" endpoint "$drv_ip:$drv_port"
}
configure_peer
in_peer ip addr add "$peer_tun/24" dev wg0
in_peer ip link set wg0 up

# The driver's latest handshake time as wireguard-go reports it (0 = never).
latest_handshake() {
  peer_wg show wg0 latest-handshakes | awk -v k="$drv_pub" '$1 == k { print $2 }'
}

driver_args=(--private-key "$(b64_to_hex "$drv_priv")" --listen "$drv_ip:$drv_port"
  --peer-public "$(b64_to_hex "$peer_pub")" --peer-endpoint "$peer_ip:$peer_port"
  --allowed-ip "$peer_tun/32" --tunnel-address "$drv_tun")

# ---- (a) the driver initiates
echo "== (a) strait initiates, wireguard-go responds"
[ "$(latest_handshake)" = "0" ] || fail "a handshake before any traffic?"
in_drv "$driver" --mode initiator --target "$peer_tun" --timeout-seconds 60 "${driver_args[@]}" \
  2>&1 | tee "$work/driver-a.log" || fail "(a) no echo reply through the tunnel"
grep -q "handshake complete (we initiated)" "$work/driver-a.log" || fail "(a) strait did not initiate"
hs=$(latest_handshake)
[ -n "$hs" ] && [ "$hs" != "0" ] || fail "(a) wg show latest-handshakes is '$hs'"
echo "(a) ok: echo reply received; wireguard-go latest handshake $hs"

# ---- (b) wireguard-go initiates
echo "== (b) wireguard-go initiates, strait responds"
# Forget (a)'s session on wireguard-go's side, so that it must start a handshake.
peer_wg set wg0 peer "$drv_pub" remove
configure_peer
[ "$(latest_handshake)" = "0" ] || fail "(b) the re-added peer still has a handshake"
in_drv "$driver" --mode responder --count 3 --timeout-seconds 90 "${driver_args[@]}" \
  > "$work/driver-b.log" 2>&1 &
drv_pid=$!
sleep 0.5  # the driver binds its socket; a ping before that is retried by wireguard-go anyway
in_peer ping -c 3 -W 5 "$drv_tun" || { cat "$work/driver-b.log"; fail "(b) ping through the tunnel failed"; }
drv_rc=0
wait "$drv_pid" || drv_rc=$?
drv_pid=""
cat "$work/driver-b.log"
[ "$drv_rc" -eq 0 ] || fail "(b) the driver did not answer three echo requests"
grep -q "handshake complete (we responded)" "$work/driver-b.log" || fail "(b) strait did not respond"
hs=$(latest_handshake)
[ -n "$hs" ] && [ "$hs" != "0" ] || fail "(b) wg show latest-handshakes is '$hs'"
echo "(b) ok: ping answered; wireguard-go latest handshake $hs"

echo "PASS: strait Device <-> wireguard-go, both directions"
