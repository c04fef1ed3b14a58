#pragma once
// Runs a helper program (ovs-ofctl, ovs-vsctl, ip) with an argv, no shell: arguments are never
// re-parsed, so a spec value can not inject a command. Captures stdout and stderr, feeds
// stdin, and kills the process when it overruns its timeout (a hung ovs-vswitchd must not
// hang the agent). The interface lets tests script the answers.

#include <chrono>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace strait::ctl {

struct CommandOutput {
  int exit_code = -1;  // the exit status; 128+N when killed by signal N
  std::string out;
  std::string err;
};

class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // An Error only when the program could not be run at all or timed out; a non-zero exit is
  // a CommandOutput for the caller to judge.
  [[nodiscard]] virtual Result<CommandOutput> run(const std::vector<std::string>& argv,
                                                  const std::string& stdin_text) = 0;
};

class ProcessRunner : public CommandRunner {
 public:
  explicit ProcessRunner(std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : timeout_(timeout) {}
  [[nodiscard]] Result<CommandOutput> run(const std::vector<std::string>& argv,
                                          const std::string& stdin_text) override;

 private:
  std::chrono::milliseconds timeout_;
};

// "ovs-ofctl -O OpenFlow13 dump-flows br0" for log messages.
[[nodiscard]] std::string command_line(const std::vector<std::string>& argv);

// "exited with 1: <first line of stderr>" for log messages.
[[nodiscard]] std::string describe_failure(const CommandOutput& out);

}  // namespace strait::ctl
