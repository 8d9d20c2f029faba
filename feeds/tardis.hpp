#pragma once
// Tardis.dev recordings (DESIGN §9, docs/feeds.md): raw captures, one `<ISO 8601 receive time>
// <frame exactly as received>` per line, whose frames go to the venue's adapter; and trades CSV
// (`exchange,symbol,timestamp,local_timestamp,id,side,price,amount`, microseconds; columns
// found by the header), read into trade ticks. Pure functions and a parser with the venue
// adapters' interface, so both go through the same frame_pipeline as live frames.

#include "engine/core/instrument_registry.hpp"
#include "engine/core/tick.hpp"
#include "engine/core/time.hpp"
#include "feeds/frame.hpp"

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace seismo::feeds {

/// One raw capture line, split.
struct tardis_line {
    core::nanos recv = 0;   ///< the receive time in front
    std::string_view frame; ///< the rest: the frame as the venue sent it
};

/// Splits a raw capture line; false when it does not start with an RFC 3339 time and a space.
[[nodiscard]] bool split_tardis_line(std::string_view line, tardis_line& out) noexcept;
/// The same, reading the time with `times` (a capture's lines mostly share their minute).
[[nodiscard]] bool split_tardis_line(std::string_view line, tardis_line& out,
                                     core::rfc3339_reader& times) noexcept;

/// Tardis CSV exchange names ("binance-futures", "okex-swap", ...) to seismo venue names.
[[nodiscard]] std::string venue_from_exchange(std::string_view exchange);

class tardis_csv_parser {
  public:
    /// `venue_override`: the venue of every symbol (empty: from the exchange column).
    tardis_csv_parser(core::instrument_registry& reg, std::string venue_override);
    ~tardis_csv_parser();
    tardis_csv_parser(const tardis_csv_parser&) = delete;
    tardis_csv_parser& operator=(const tardis_csv_parser&) = delete;

    /// One line: a header (ignored, it names the columns) or one trade (a tick appended to
    /// `out`). The tick's receive time is `local_timestamp` (else `timestamp`).
    parse_result parse(std::string_view line, std::vector<core::tick>& out);

  private:
    core::symbol_cache& symbols(std::string_view exchange);

    core::instrument_registry* reg_;
    std::string venue_override_;
    /// (exchange column value, or "" with a venue override) -> its venue's symbol cache
    std::vector<std::pair<std::string, std::unique_ptr<core::symbol_cache>>> caches_;
    /// Column of price, amount, timestamp, local_timestamp, id, symbol, exchange (-1: none).
    std::array<int, 7> columns_{-1, -1, -1, -1, -1, -1, -1};
    bool have_header_ = false;
};

} // namespace seismo::feeds
