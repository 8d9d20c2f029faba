#pragma once
// ws:// and wss:// URLs.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace seismo::feeds::live {

struct ws_url {
    bool tls = false;
    std::string host; ///< without brackets for IPv6 literals
    std::uint16_t port = 0;
    std::string target; ///< path and query, at least "/"

    /// "host:port" as the Host header wants it (default ports omitted).
    [[nodiscard]] std::string host_header() const;
};

/// Parses `ws://host[:port][/path][?query]` or `wss://...`; std::nullopt when malformed.
[[nodiscard]] std::optional<ws_url> parse_ws_url(std::string_view url);

} // namespace seismo::feeds::live
