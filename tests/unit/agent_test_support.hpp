#pragma once
// Shared by the agent_*_test.cpp files: the 2 clusters x 2 nodes mesh of DESIGN.md section 1,
// and a CommandRunner that scripts helper programs' answers.

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "control/command_runner.hpp"

namespace strait::ctl::testing {

// Keys: node i has the key of 32 bytes of value i (a1=1, a2=2, b1=3, b2=4).
inline constexpr const char* kKeyA1 = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
inline constexpr const char* kKeyA2 = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
inline constexpr const char* kKeyB1 = "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=";
inline constexpr const char* kKeyB2 = "BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ=";
inline constexpr const char* kKeyC1 = "BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU=";

// b2 runs stock WireGuard (straitd: false).
inline const std::string kSpec2x2 = std::string(R"(clusters:
  - name: a
    pod_cidrs: [10.128.0.0/14]
  - name: b
    pod_cidrs: [10.132.0.0/14, fd00:b::/48]
nodes:
  - name: a1
    cluster: a
    pod_subnets: [10.128.0.0/23]
    endpoint: 192.0.2.1:51820
    public_key: )") + kKeyA1 + R"(
    straitd: true
  - name: a2
    cluster: a
    pod_subnets: [10.128.2.0/23]
    endpoint: 192.0.2.2:51820
    public_key: )" + kKeyA2 + R"(
    straitd: true
  - name: b1
    cluster: b
    pod_subnets: [10.132.0.0/23]
    endpoint: 198.51.100.1:51820
    public_key: )" + kKeyB1 + R"(
    straitd: true
  - name: b2
    cluster: b
    pod_subnets: [10.132.2.0/23]
    endpoint: "[2001:db8::2]:51821"
    public_key: )" + kKeyB2 + R"(
    straitd: false
defaults:
  persistent_keepalive: 15
)";

// Answers commands from a script: each call pops the first expectation. Records every call.
class ScriptedRunner : public CommandRunner {
 public:
  struct Call {
    std::vector<std::string> argv;
    std::string stdin_text;
  };
  using Answer = std::function<CommandOutput(const Call&)>;

  // Answers whatever matches `argv0_and_verb` (e.g. "ovs-ofctl dump-flows") with `answer`.
  void on(std::string needle, Answer answer) {
    rules_.emplace_back(std::move(needle), std::move(answer));
  }

  Result<CommandOutput> run(const std::vector<std::string>& argv,
                            const std::string& stdin_text) override {
    Call c{argv, stdin_text};
    calls.push_back(c);
    const std::string line = command_line(argv);
    for (auto& [needle, answer] : rules_) {
      if (line.find(needle) != std::string::npos) return answer(c);
    }
    return CommandOutput{127, "", "no script for: " + line};
  }

  std::vector<Call> calls;

 private:
  std::vector<std::pair<std::string, Answer>> rules_;
};

}  // namespace strait::ctl::testing
