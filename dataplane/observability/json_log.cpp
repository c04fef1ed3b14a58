#include "observability/json_log.hpp"

#include <spdlog/spdlog.h>

#include <ctime>

namespace strait::observe {

void append_json_escaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += ch;
        }
    }
  }
}

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  const auto since_epoch = msg.time.time_since_epoch();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(since_epoch - secs);
  const std::time_t t = secs.count();
  std::tm utc{};
  gmtime_r(&t, &utc);
  char ts[40];
  const std::size_t n = std::strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(ts + n, sizeof(ts) - n, ".%06lldZ", static_cast<long long>(micros.count()));
  std::string line = "{\"ts\":\"";
  line += ts;
  line += "\",\"level\":\"";
  const auto level = spdlog::level::to_string_view(msg.level);
  line.append(level.data(), level.size());
  line += "\",\"logger\":\"";
  append_json_escaped(line, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
  line += "\",\"msg\":\"";
  append_json_escaped(line, std::string_view(msg.payload.data(), msg.payload.size()));
  line += "\"}\n";
  dest.append(line.data(), line.data() + line.size());
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const {
  return std::make_unique<JsonLogFormatter>();
}

void use_json_logs() { spdlog::set_formatter(std::make_unique<JsonLogFormatter>()); }

}  // namespace strait::observe
