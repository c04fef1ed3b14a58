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
# shellcheck source=../system/lib/rig.sh
source "$(dirname "$0")/../system/lib/rig.sh"
trap rig_exit EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (network namespaces, TUN)"; exit 77; }
rig_require wireguard-go wg ip ping nsenter unshare od
[ -c /dev/net/tun ] || { echo "SKIP: /dev/net/tun is missing"; exit 77; }
[ -x "$driver" ] || rig_fail "driver $driver is not executable"

id=$$
peer_ns=stwg-peer$id
drv_ns=stwg-drv$id
drv_ip=10.99.0.1 drv_port=51001
peer_ip=10.99.0.2 peer_port=51002
drv_tun=10.77.0.1 peer_tun=10.77.0.2

# wg(8) inside wireguard-go's network and mount namespaces (its UAPI socket is there).
peer_wg() { nsenter --target "$wg_pid" --net --mount wg "$@"; }
in_peer() { ip netns exec "$peer_ns" "$@"; }
in_drv() { ip netns exec "$drv_ns" "$@"; }

# ---- keys
drv_pub=$(rig_keypair driver)
peer_pub=$(rig_keypair peer)

# ---- namespaces and the veth pair
rig_netns_pair "$drv_ns" "$peer_ns" "vd$id" "vp$id" "$drv_ip/24" "$peer_ip/24"

# ---- wireguard-go in the peer namespace, with a private /run for its UAPI socket (not the
# rig's rig_start_wireguard_go: a host's own /run/wireguard is never seen or disturbed)
ip netns exec "$peer_ns" unshare --mount --propagation private \
  sh -c 'mount -t tmpfs tmpfs /run && exec env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=debug wireguard-go wg0' \
  > "$RIG_WORK/wireguard-go.log" 2>&1 &
wg_pid=$!
RIG_PIDS+=("$wg_pid")
rig_log "$RIG_WORK/wireguard-go.log"
rig_wait_for "wireguard-go's UAPI socket" nsenter --target "$wg_pid" --mount test -S /run/wireguard/wg0.sock

configure_peer() {
  peer_wg set wg0 private-key "$RIG_WORK/peer.key" listen-port "$peer_port" \
    peer "$drv_pub" allowed-ips "$drv_tun/32" endpoint "$drv_ip:$drv_port"
}
configure_peer
in_peer ip addr add "$peer_tun/24" dev wg0
in_peer ip link set wg0 up

# The driver's latest handshake time as wireguard-go reports it (0 = never).
latest_handshake() {
  peer_wg show wg0 latest-handshakes | awk -v k="$drv_pub" '$1 == k { print $2 }'
}

driver_args=(--private-key "$(rig_hex_of "$(cat "$RIG_WORK/driver.key")")"
  --listen "$drv_ip:$drv_port" --peer-public "$(rig_hex_of "$peer_pub")"
  --peer-endpoint "$peer_ip:$peer_port"
  --allowed-ip "$peer_tun/32" --tunnel-address "$drv_tun")

# ---- (a) the driver initiates
echo "== (a) strait initiates, wireguard-go responds"
[ "$(latest_handshake)" = "0" ] || rig_fail "a handshake before any traffic?"
in_drv "$driver" --mode initiator --target "$peer_tun" --timeout-seconds 60 "${driver_args[@]}" \
  2>&1 | tee "$RIG_WORK/driver-a.log" || rig_fail "(a) no echo reply through the tunnel"
grep -q "handshake complete (we initiated)" "$RIG_WORK/driver-a.log" || rig_fail "(a) strait did not initiate"
hs=$(latest_handshake)
[ -n "$hs" ] && [ "$hs" != "0" ] || rig_fail "(a) wg show latest-handshakes is '$hs'"
echo "(a) ok: echo reply received; wireguard-go latest handshake $hs"

# ---- (b) wireguard-go initiates
echo "== (b) wireguard-go initiates, strait responds"
# Forget (a)'s session on wireguard-go's side, so that it must start a handshake.
peer_wg set wg0 peer "$drv_pub" remove
configure_peer
[ "$(latest_handshake)" = "0" ] || rig_fail "(b) the re-added peer still has a handshake"
in_drv "$driver" --mode responder --count 3 --timeout-seconds 90 "${driver_args[@]}" \
  > "$RIG_WORK/driver-b.log" 2>&1 &
drv_pid=$!
RIG_PIDS+=("$drv_pid")
rig_log "$RIG_WORK/driver-b.log"
sleep 0.5  # the driver binds its socket; a ping before that is retried by wireguard-go anyway
in_peer ping -c 3 -W 5 "$drv_tun" || rig_fail "(b) ping through the tunnel failed"
drv_rc=0
wait "$drv_pid" || drv_rc=$?
rig_forget "$drv_pid"
cat "$RIG_WORK/driver-b.log"
[ "$drv_rc" -eq 0 ] || rig_fail "(b) the driver did not answer three echo requests"
grep -q "handshake complete (we responded)" "$RIG_WORK/driver-b.log" || rig_fail "(b) strait did not respond"
hs=$(latest_handshake)
[ -n "$hs" ] && [ "$hs" != "0" ] || rig_fail "(b) wg show latest-handshakes is '$hs'"
echo "(b) ok: ping answered; wireguard-go latest handshake $hs"

echo "PASS: strait Device <-> wireguard-go, both directions"
