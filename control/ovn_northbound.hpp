#pragma once
// The `ovn-kubernetes` profile's I/O: ovs-vsctl for straitd's port on br-int (its MAC, and the
// external_ids:iface-id that binds it to the logical switch port), ovn-nbctl for the rows of
// ovn_logical.hpp in the northbound database. Each change is one ovn-nbctl transaction (its
// commands joined by "--"), so OVN never sees half of it; a steady mesh only reads.
//
// Both OVN-Kubernetes modes look the same from here: with one NB database for the cluster
// (before OpenShift 4.14) every node's agent writes its own rows into it, told apart by the
// owner marker and by matches that name the node's own subnets; in interconnect mode (one
// zone per node, OpenShift 4.14 and later) `--ovn-nb` is the node's own zone's database.

#include <string>
#include <vector>

#include "control/forwarding.hpp"
#include "control/ovn_logical.hpp"

namespace strait::ctl {

struct OvnTarget {
  std::string node;            // the owner marker's value
  std::string nb_db;           // ovn-nbctl --db (empty: $OVN_NB_DB, else its default socket)
  std::string logical_switch;  // the node's switch (OVN-Kubernetes names it after the node)
  std::string router;          // ovn_cluster_router
  std::string bridge;          // br-int
  std::string ovs_port;        // straitd's port on br-int
  [[nodiscard]] std::string port_name() const { return "strait-" + node; }
};

class OvnNorthbound : public Forwarding {
 public:
  OvnNorthbound(CommandRunner& runner, OvnTarget target)
      : runner_(runner), target_(std::move(target)) {}

  [[nodiscard]] Result<ForwardingReport> reconcile(const DesiredState& desired) override;
  [[nodiscard]] Result<std::size_t> remove_all() override;

  // straitd's port MAC, after making sure its iface-id names our logical switch port.
  [[nodiscard]] Result<std::string> bind_port();
  [[nodiscard]] Result<OvnPort> read_port();
  [[nodiscard]] Result<std::vector<OvnPolicy>> read_policies();

 private:
  [[nodiscard]] Result<CommandOutput> run(const std::vector<std::string>& argv);
  [[nodiscard]] std::vector<std::string> nbctl(std::vector<std::string> args) const;

  CommandRunner& runner_;
  OvnTarget target_;
};

}  // namespace strait::ctl
