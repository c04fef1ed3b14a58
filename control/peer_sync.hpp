#pragma once
// Brings the peers of the local straitd to the desired state through the UAPI, sending only
// the difference, in one set=1 request (applied as a whole by the server).
//
// Ownership: the agent owns a peer if its public key belongs to a node of the current spec,
// or if this agent process installed it before (a node later dropped from the spec). Other
// peers (added by hand with `wg set`, or by another tool) are never touched. A node removed
// from the spec while the agent was not running therefore stays as a peer until removed by
// hand or a straitd restart; that is harmless: if its pod subnet is reused, adding it to the
// new owner moves the allowed IP (the UAPI's insert semantics), and without allowed IPs no
// traffic goes to it.
//
// Endpoints and roaming: WireGuard moves a peer's endpoint to the source address of its last
// authenticated packet (paper section 2.1). Behind a VIP that source is the remote node's
// egress (SNAT) address, not its VIP, and both work. The agent sets the endpoint when it adds
// a peer, when the device has none, and when the spec's VIP changes; it does not undo roaming,
// so a steady mesh sends no set request at all.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "control/desired_state.hpp"
#include "uapi/client.hpp"

namespace strait::ctl {

struct PeerSyncPlan {
  uapi::DeviceChange change;
  std::vector<std::string> added;  // node names (or base64 keys for unnamed removals)
  std::vector<std::string> updated;
  std::vector<std::string> removed;
  [[nodiscard]] bool empty() const { return change.peers.empty() && !change.listen_port; }
};

class PeerSync {
 public:
  // Computes the difference between `desired` and the device's `current` state. `spec_keys`
  // are the public keys of every node of the current spec (owned, see above).
  [[nodiscard]] PeerSyncPlan plan(const DesiredState& desired, const uapi::DeviceState& current,
                                  const std::set<Key>& spec_keys) const;

  // Reads the device, plans, and sends the plan if it is not empty. Remembers what it applied.
  [[nodiscard]] Result<PeerSyncPlan> sync(uapi::UapiClient& client, const DesiredState& desired,
                                          const std::set<Key>& spec_keys);

  // Removes every owned peer present on the device (for --cleanup and --cleanup-on-exit).
  [[nodiscard]] Result<std::size_t> remove_owned(uapi::UapiClient& client,
                                                 const std::set<Key>& spec_keys);

  // Keys installed by this process so far (owned even when gone from the spec).
  [[nodiscard]] const std::set<Key>& installed() const { return installed_; }

 private:
  [[nodiscard]] bool owned(const Key& key, const std::set<Key>& spec_keys) const {
    return spec_keys.count(key) != 0 || installed_.count(key) != 0;
  }
  void remember(const PeerSyncPlan& plan);

  std::set<Key> installed_;
  std::map<Key, uapi::Endpoint> applied_endpoints_;  // last endpoint we set, per peer
};

}  // namespace strait::ctl
