#pragma once
// Venue adapters (DESIGN §4): real public WebSocket formats parsed in place with simdjson
// On-Demand into normalized ticks, with control frames (acks, heartbeats, pongs, status, errors,
// and the subscribe requests a client sends) recognised as `control` and channels seismo does not
// use (depth, books, klines, ...) as `ignored`.
//
//   binance   spot, Binance.US, USD-M futures: trade, aggTrade, bookTicker; raw or combined
//   coinbase  Exchange match, last_match, ticker; Advanced Trade market_trades
//   kraken    v1 array frames (trade, ticker); v2 trade, ticker
//   okx       v5 trades, trades-all, tickers
//   bybit     v5 publicTrade, tickers
//   generic   the generic tick protocol (feeds/generic.hpp)
//
// One parser per feed thread; parse() allocates nothing once `out` has grown. Frames need
// k_padding readable bytes after them.

#include "engine/core/instrument_registry.hpp"
#include "engine/core/tick.hpp"
#include "feeds/frame.hpp"

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

namespace seismo::feeds {

enum class venue : std::uint8_t { generic, binance, coinbase, kraken, okx, bybit };

[[nodiscard]] const char* to_string(venue v) noexcept;
[[nodiscard]] bool parse_venue(std::string_view s, venue& out) noexcept;

class venue_parser {
  public:
    venue_parser(venue v, core::symbol_cache& symbols, std::size_t max_frame = k_default_max_frame);
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
