#include "control/peer_sync.hpp"

#include <algorithm>

#include "core/key_base64.hpp"

namespace strait::ctl {

namespace {

std::vector<IpPrefix> sorted(std::vector<IpPrefix> v) {
  std::sort(v.begin(), v.end());
  return v;
}

uapi::PeerChange full_change(const DesiredPeer& want, bool straitd) {
  uapi::PeerChange pc;
  pc.public_key = want.public_key;
  pc.endpoint = want.endpoint;
  pc.persistent_keepalive = want.persistent_keepalive;
  pc.replace_allowed_ips = true;
  pc.allowed_ips = want.allowed_ips;
  if (straitd) pc.cipher = want.cipher;
  return pc;
}

}  // namespace

PeerSyncPlan PeerSync::plan(const DesiredState& desired, const uapi::DeviceState& current,
                            const std::set<Key>& spec_keys) const {
  PeerSyncPlan plan;
  if (desired.listen_port && *desired.listen_port != current.listen_port) {
    plan.change.listen_port = desired.listen_port;
  }
  std::set<Key> wanted;
  for (const DesiredPeer& want : desired.peers) {
    wanted.insert(want.public_key);
    const auto it =
        std::find_if(current.peers.begin(), current.peers.end(),
                     [&](const uapi::PeerState& p) { return p.public_key == want.public_key; });
    if (it == current.peers.end()) {
      plan.change.peers.push_back(full_change(want, desired.local_straitd));
      plan.added.push_back(want.node);
      continue;
    }
    const auto last = applied_endpoints_.find(want.public_key);
    const bool endpoint_stale =
        !it->endpoint || (*it->endpoint != want.endpoint &&
                          (last == applied_endpoints_.end() || last->second != want.endpoint));
    const bool differs = endpoint_stale || it->persistent_keepalive != want.persistent_keepalive ||
                         (desired.local_straitd && it->cipher != want.cipher) ||
                         sorted(it->allowed_ips) != sorted(want.allowed_ips);
    if (differs) {
      uapi::PeerChange pc = full_change(want, desired.local_straitd);
      if (!endpoint_stale) pc.endpoint.reset();  // leave a roamed endpoint alone
      plan.change.peers.push_back(std::move(pc));
      plan.updated.push_back(want.node);
    }
  }
  for (const uapi::PeerState& have : current.peers) {
    if (wanted.count(have.public_key) != 0 || !owned(have.public_key, spec_keys)) continue;
    uapi::PeerChange pc;
    pc.public_key = have.public_key;
    pc.remove = true;
    plan.change.peers.push_back(std::move(pc));
    plan.removed.push_back(wg::key_to_base64(have.public_key));
  }
  return plan;
}

void PeerSync::remember(const PeerSyncPlan& plan) {
  for (const uapi::PeerChange& pc : plan.change.peers) {
    if (pc.remove) {
      applied_endpoints_.erase(pc.public_key);
      continue;
    }
    installed_.insert(pc.public_key);
    if (pc.endpoint) applied_endpoints_[pc.public_key] = *pc.endpoint;
  }
}

Result<PeerSyncPlan> PeerSync::sync(uapi::UapiClient& client, const DesiredState& desired,
                                    const std::set<Key>& spec_keys) {
  auto current = client.get();
  if (!current) return current.error();
  PeerSyncPlan p = plan(desired, *current, spec_keys);
  // Peers that are already as desired are ours too (installed by an earlier agent run).
  for (const DesiredPeer& want : desired.peers) installed_.insert(want.public_key);
  if (p.empty()) return p;
  if (auto r = client.set(p.change); !r) return r.error();
  remember(p);
  return p;
}

Result<std::size_t> PeerSync::remove_owned(uapi::UapiClient& client,
                                           const std::set<Key>& spec_keys) {
  auto current = client.get();
  if (!current) return current.error();
  uapi::DeviceChange change;
  for (const uapi::PeerState& have : current->peers) {
    if (!owned(have.public_key, spec_keys)) continue;
    uapi::PeerChange pc;
    pc.public_key = have.public_key;
    pc.remove = true;
    change.peers.push_back(std::move(pc));
  }
  if (change.peers.empty()) return std::size_t{0};
  if (auto r = client.set(change); !r) return r.error();
  for (const auto& pc : change.peers) applied_endpoints_.erase(pc.public_key);
  return change.peers.size();
}

}  // namespace strait::ctl
