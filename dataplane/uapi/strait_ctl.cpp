// strait-ctl: the strait_ keys of the UAPI from the command line, beside wg(8), which shows and
// sets everything else but skips keys it does not know (UAPI.md, "strait-ctl"). A client of
// straitd's UAPI socket through UapiClient, like strait-agent.
//
//   strait-ctl IFNAME show                       per peer: cipher, packets, drops
//   strait-ctl IFNAME drops                      device-wide drops, "reason<TAB>count"
//   strait-ctl IFNAME set-cipher PEER CIPHER     strait_cipher of one existing peer
//
// Exit codes: 0 ok, 1 the device refused or could not be reached, 2 usage.

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "core/key_base64.hpp"
#include "observability/version.hpp"
#include "uapi/client.hpp"

namespace {

using namespace strait;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

const char* const kUsage =
    "usage: strait-ctl [--socket PATH] IFNAME show\n"
    "       strait-ctl [--socket PATH] IFNAME drops [--all]\n"
    "       strait-ctl [--socket PATH] IFNAME set-cipher PEER_PUBLIC_KEY "
    "chacha20-poly1305|aes256-gcm\n"
    "       strait-ctl --version | --help\n"
    "\n"
    "The strait_ keys of straitd's UAPI (dataplane/uapi/UAPI.md); wg(8) does the rest.\n"
    "  show        per peer: strait_cipher, strait_rx/tx_packets, non-zero strait_drop_<reason>\n"
    "  drops       device-wide drop counters, one \"reason<TAB>count\" line each (non-zero\n"
    "              ones; --all: every reason)\n"
    "  set-cipher  the peer's transport cipher (both ends must agree); the peer must exist\n"
    "  --socket    the UAPI socket (default /var/run/wireguard/IFNAME.sock)\n";

int usage_error(const std::string& message) {
  std::cerr << "strait-ctl: " << message << "\n" << kUsage;
  return kExitUsage;
}

std::string drops_text(const uapi::DropCounters& drops) {
  std::string out;
  for (const auto& [reason, n] : drops) {
    if (n == 0) continue;
    out += (out.empty() ? "" : ", ") + reason + " " + std::to_string(n);
  }
  return out.empty() ? "none" : out;
}

int show(uapi::UapiClient& client) {
  auto state = client.get();
  if (!state) {
    std::cerr << "strait-ctl: get: " << state.error().message << "\n";
    return kExitFailure;
  }
  for (const auto& p : state.value().peers) {
    std::cout << "peer: " << wg::key_to_base64(p.public_key) << "\n"
              << "  cipher: " << uapi::cipher_name(p.cipher) << "\n"
              << "  packets: " << p.rx_packets << " received, " << p.tx_packets << " sent\n"
              << "  drops: " << drops_text(p.drops) << "\n";
  }
  return kExitOk;
}

int drops(uapi::UapiClient& client, bool all) {
  auto state = client.get();
  if (!state) {
    std::cerr << "strait-ctl: get: " << state.error().message << "\n";
    return kExitFailure;
  }
  for (const auto& [reason, n] : state.value().drops) {
    if (n != 0 || all) std::cout << reason << "\t" << n << "\n";
  }
  return kExitOk;
}

int set_cipher(uapi::UapiClient& client, const std::string& peer, const std::string& cipher) {
  std::string why;
  const auto key = wg::key_from_base64(peer, &why);
  if (!key) return usage_error("PEER_PUBLIC_KEY '" + peer + "': " + why);
  const auto c = uapi::cipher_from_name(cipher);
  if (!c) return usage_error("cipher '" + cipher + "' is not chacha20-poly1305 or aes256-gcm");
  uapi::DeviceChange change;
  uapi::PeerChange p;
  p.public_key = *key;
  p.update_only = true;  // never create a peer by a typo
  p.cipher = *c;
  change.peers.push_back(p);
  if (auto r = client.set(change); !r) {
    std::cerr << "strait-ctl: set strait_cipher: " << r.error().message << "\n";
    return kExitFailure;
  }
  // update_only makes an unknown peer a silent no-op (as in wg): say so.
  auto state = client.get();
  if (state) {
    for (const auto& s : state.value().peers) {
      if (s.public_key == *key) return kExitOk;
    }
    std::cerr << "strait-ctl: no peer " << peer << " on this device (add it with wg set first)\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && args[0] == "--version") {
    std::cout << observe::version_line("strait-ctl") << "\n";
    return kExitOk;
  }
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << kUsage;
    return kExitOk;
  }
  std::string socket;
  if (args.size() >= 2 && args[0] == "--socket") {
    socket = args[1];
    args.erase(args.begin(), args.begin() + 2);
  }
  if (args.size() < 2) return usage_error("expected IFNAME and a command");
  const std::string& ifname = args[0];
  const std::string& command = args[1];
  const std::vector<std::string> rest(args.begin() + 2, args.end());
  if (command != "show" && command != "drops" && command != "set-cipher") {
    return usage_error("unknown command '" + command + "'");
  }
  if ((command == "show" && !rest.empty()) ||
      (command == "drops" && !(rest.empty() || (rest.size() == 1 && rest[0] == "--all"))) ||
      (command == "set-cipher" && rest.size() != 2)) {
    return usage_error("wrong arguments for " + command);
  }
  if (socket.empty()) socket = uapi::socket_path_for(ifname);
  auto client = uapi::UapiClient::connect(socket);
  if (!client) {
    std::cerr << "strait-ctl: " << socket << ": " << client.error().message
              << " (is straitd running with --ifname " << ifname << "?)\n";
    return kExitFailure;
  }
  if (command == "show") return show(client.value());
  if (command == "drops") return drops(client.value(), !rest.empty());
  return set_cipher(client.value(), rest[0], rest[1]);
}
