// libFuzzer target: the mesh spec parser (control/mesh_spec.hpp), the YAML every strait-agent
// reads from its ConfigMap / file. Any text must be refused with a message or accepted as a
// spec that keeps the parser's promises: every node's cluster exists, every name finds its
// entry, and a refusal has a message.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "control/mesh_spec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto spec = strait::ctl::parse_mesh_spec(text);
  if (!spec.ok()) {
    if (spec.error().message.empty()) __builtin_trap();
    return 0;
  }
  for (const auto& node : spec->nodes) {
    if (spec->find_cluster(node.cluster) == nullptr) __builtin_trap();
    if (spec->find_node(node.name) != &node) __builtin_trap();
  }
  for (const auto& cluster : spec->clusters)
    if (spec->find_cluster(cluster.name) != &cluster) __builtin_trap();
  return 0;
}
