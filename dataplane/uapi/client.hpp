#pragma once
// A blocking client of a UAPI socket (server.hpp serves it in straitd), for strait-agent,
// strait-ctl, straitd's /metrics and tests. One thread uses a client at a time.

#include <chrono>
#include <string>
#include <string_view>

#include "uapi/model.hpp"
#include "uapi/protocol.hpp"
#include "uapi/unix_socket.hpp"

namespace strait::uapi {

class UapiClient {
 public:
  // Connects to a UAPI socket. Each call below blocks for at most `timeout` per read/write.
  [[nodiscard]] static Result<UapiClient> connect(
      const std::string& path, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  UapiClient(UapiClient&& other) noexcept;
  UapiClient& operator=(UapiClient&& other) noexcept;
  UapiClient(const UapiClient&) = delete;
  UapiClient& operator=(const UapiClient&) = delete;
  ~UapiClient();

  // get=1, parsed.
  [[nodiscard]] Result<DeviceState> get();
  // set=1 with render_set(change); an error carries the device's errno.
  [[nodiscard]] Result<void> set(const DeviceChange& change);
  // Sends request text as is and returns the reply up to and including its empty line.
  [[nodiscard]] Result<std::string> request(std::string_view text);

 private:
  explicit UapiClient(int fd) : fd_(fd) {}
  int fd_ = -1;
  std::string pending_;  // bytes read past the end of the last reply
};

}  // namespace strait::uapi
