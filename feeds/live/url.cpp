#include "feeds/live/url.hpp"

#include <charconv>

namespace seismo::feeds::live {

std::string ws_url::host_header() const {
    const bool v6 = host.find(':') != std::string::npos;
    std::string h = v6 ? "[" + host + "]" : host;
    if ((tls && port != 443) || (!tls && port != 80)) h += ":" + std::to_string(port);
    return h;
}

std::optional<ws_url> parse_ws_url(std::string_view url) {
    ws_url u;
    if (url.starts_with("wss://")) {
        u.tls = true;
        url.remove_prefix(6);
    } else if (url.starts_with("ws://")) {
        url.remove_prefix(5);
    } else {
        return std::nullopt;
    }
    const auto slash = url.find_first_of("/?");
    std::string_view authority = url.substr(0, slash);
    u.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
    if (u.target.front() == '?') u.target.insert(0, "/");
    if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
    std::string_view port;
    if (authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        u.host = std::string(authority.substr(1, close - 1));
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':') return std::nullopt;
            port = authority.substr(close + 2);
        }
    } else {
        const auto colon = authority.rfind(':');
        u.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    }
    if (u.host.empty()) return std::nullopt;
    if (port.empty()) {
        u.port = u.tls ? 443 : 80;
    } else {
        unsigned p = 0;
        const auto r = std::from_chars(port.data(), port.data() + port.size(), p);
        if (r.ec != std::errc{} || r.ptr != port.data() + port.size() || p == 0 || p > 65535)
            return std::nullopt;
        u.port = static_cast<std::uint16_t>(p);
    }
    return u;
}

} // namespace seismo::feeds::live
