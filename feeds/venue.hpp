#pragma once
// Venues (DESIGN §4): the one list of what seismo can connect to, and the adapter that parses
// each venue's real public WebSocket frames in place with simdjson On-Demand into normalized
// ticks. Control frames (acks, heartbeats, pongs, status, errors, and the subscribe requests a
// client sends) are recognised as `control`; channels seismo does not use (depth, books,
// klines, ...) as `ignored`. Each venue lives in its own file, feeds/venues/<name>.cpp: its
// parser, subscribe messages, keepalive and defaults.
//
// One parser per feed thread; parse() allocates nothing once `out` has grown. Frames need
// k_padding readable bytes after them. Pure: no sockets, no threads, no clock reads.

#include "engine/core/instrument_registry.hpp"
#include "engine/core/tick.hpp"
#include "feeds/frame.hpp"

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace seismo::feeds {

enum class venue : std::uint8_t { generic, binance, coinbase, kraken, okx, bybit };

/// How a venue wants an idle connection kept alive.
enum class keepalive_kind : std::uint8_t {
    ws_ping, ///< WebSocket ping frames
    text,    ///< an application message (`keepalive_text`), answered by the venue
};

/// What a feed asks a venue for.
struct subscription {
    std::string_view url;                     ///< some venues pick a protocol by URL
    const std::vector<std::string>& symbols;  ///< the venue's native symbols
    const std::vector<std::string>& channels; ///< empty: the venue's trade channel
};

/// Everything seismo knows about a venue beyond its parser.
struct venue_info {
    venue id;
    std::string_view name;    ///< as written in configs ([[feed]] venue, aliases, --venue)
    std::string_view formats; ///< what the adapter reads, for messages and docs
    keepalive_kind keepalive;
    std::string_view keepalive_text; ///< for keepalive_kind::text
    core::nanos keepalive_every;     ///< default interval
    core::nanos max_connection_age;  ///< default rotation age (0: never)
    /// The messages to send after connecting.
    std::vector<std::string> (*subscribe)(const subscription& s);
};

/// Every venue, `generic` first.
[[nodiscard]] std::span<const venue_info* const> venues() noexcept;
[[nodiscard]] const venue_info& info(venue v) noexcept;
[[nodiscard]] const char* to_string(venue v) noexcept;
[[nodiscard]] bool parse_venue(std::string_view s, venue& out) noexcept;
/// "generic, binance, coinbase, kraken, okx, bybit" (for messages).
[[nodiscard]] std::string venue_names(std::string_view separator = ", ");

class venue_parser {
  public:
    venue_parser(venue v, core::symbol_cache& symbols,
                 std::size_t max_frame = k_default_max_venue_frame);
    ~venue_parser();
    venue_parser(const venue_parser&) = delete;
    venue_parser& operator=(const venue_parser&) = delete;

    /// Parses `data[0, len)` (`capacity >= len + k_padding` readable). Ticks are appended to
    /// `out` only when the whole frame is valid.
    parse_result parse(const char* data, std::size_t len, std::size_t capacity, core::nanos recv_ts,
                       std::vector<core::tick>& out);

    [[nodiscard]] venue kind() const noexcept;

  private:
    struct impl;
    std::unique_ptr<impl> p_;
};

} // namespace seismo::feeds
