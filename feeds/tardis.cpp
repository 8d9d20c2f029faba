#include "feeds/tardis.hpp"

#include "engine/core/time.hpp"
#include "feeds/tick_check.hpp"

#include <charconv>
#include <cmath>
#include <limits>

namespace seismo::feeds {
namespace {

enum column : std::size_t { price, amount, timestamp, local_timestamp, id, symbol, exchange };
constexpr std::array<std::string_view, 7> k_names{"price", "amount", "timestamp", "local_timestamp",
                                                  "id",    "symbol", "exchange"};
constexpr std::size_t k_max_columns = 32;

/// Epoch microseconds to nanoseconds; false when not a non-negative integer or out of range.
bool micros(std::string_view s, core::nanos& out) noexcept {
    std::int64_t v = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc{} || r.ptr != s.data() + s.size() || v < 0 ||
        v > std::numeric_limits<core::nanos>::max() / core::k_ns_per_us) {
        return false;
    }
    out = v * core::k_ns_per_us;
    return true;
}

bool number(std::string_view s, double& out) noexcept {
    if (s.empty()) return false;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

parse_result reject(reject_reason r, std::string_view why) {
    return parse_result::reject(r, why);
}

template <class ParseTime>
bool split_line(std::string_view line, tardis_line& out, ParseTime&& parse_time) noexcept {
    const auto sp = line.find(' ');
    if (sp == std::string_view::npos || sp < 20) return false;
    if (!parse_time(line.substr(0, sp), out.recv)) return false;
    out.frame = line.substr(sp + 1);
    return true;
}

} // namespace

bool split_tardis_line(std::string_view line, tardis_line& out) noexcept {
    return split_line(line, out, [](std::string_view t, core::nanos& recv) {
        return core::parse_rfc3339(t, recv);
    });
}

bool split_tardis_line(std::string_view line, tardis_line& out,
                       core::rfc3339_reader& times) noexcept {
    return split_line(line, out,
                      [&](std::string_view t, core::nanos& recv) { return times.parse(t, recv); });
}

std::string venue_from_exchange(std::string_view ex) {
    const std::string_view base = ex.substr(0, ex.find('-'));
    if (base == "okex") return "okx";
    return std::string(base);
}

tardis_csv_parser::tardis_csv_parser(core::instrument_registry& reg, std::string venue_override)
    : reg_(&reg), venue_override_(std::move(venue_override)) {}
tardis_csv_parser::~tardis_csv_parser() = default;

core::symbol_cache& tardis_csv_parser::symbols(std::string_view exchange) {
    // One cache per exchange column value (all lines share one with a venue override): the
    // lookup compares the column's text, allocating nothing once the cache exists.
    const std::string_view key = venue_override_.empty() ? exchange : std::string_view{};
    for (auto& [name, cache] : caches_) {
        if (name == key) return *cache;
    }
    const std::string venue =
        venue_override_.empty() ? venue_from_exchange(exchange) : venue_override_;
    caches_.emplace_back(std::string(key),
                         std::make_unique<core::symbol_cache>(*reg_, reg_->venue(venue)));
    return *caches_.back().second;
}

parse_result tardis_csv_parser::parse(std::string_view line, std::vector<core::tick>& out) {
    std::array<std::string_view, k_max_columns> cols;
    std::size_t n = 0;
    for (std::size_t start = 0;;) {
        const auto comma = line.find(',', start);
        if (n == k_max_columns)
            return reject(reject_reason::malformed, "tardis-csv: too many columns");
        cols[n++] = line.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                                       : comma - start);
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    if (!have_header_ || cols[0] == "exchange") {
        columns_.fill(-1);
        for (std::size_t c = 0; c < n; ++c) {
            for (std::size_t k = 0; k < k_names.size(); ++k) {
                if (cols[c] == k_names[k]) columns_[k] = static_cast<int>(c);
            }
        }
        have_header_ = columns_[price] >= 0 && columns_[symbol] >= 0 && columns_[timestamp] >= 0;
        if (!have_header_) {
            return reject(reject_reason::malformed,
                          "tardis-csv: expected a header with symbol, timestamp and price");
        }
        return parse_result::of(frame_status::ignored); // the header
    }
    auto col = [&](column k) -> std::string_view {
        const int c = columns_[k];
        return c >= 0 && static_cast<std::size_t>(c) < n ? cols[static_cast<std::size_t>(c)]
                                                         : std::string_view{};
    };
    core::tick t;
    t.kind = core::tick_kind::trade;
    if (!micros(col(timestamp), t.exch_ts)) {
        return reject(reject_reason::bad_timestamp, "timestamp: expected epoch microseconds");
    }
    if (!col(local_timestamp).empty() && !micros(col(local_timestamp), t.recv_ts)) {
        return reject(reject_reason::bad_timestamp, "local_timestamp: expected epoch microseconds");
    }
    if (t.recv_ts == 0) t.recv_ts = t.exch_ts;
    if (!number(col(price), t.px))
        return reject(reject_reason::bad_field, "price: expected a decimal");
    if (!col(amount).empty() && !number(col(amount), t.sz)) {
        return reject(reject_reason::bad_field, "amount: expected a non-negative decimal");
    }
    if (col(symbol).empty()) return reject(reject_reason::missing_field, "symbol: missing");
    core::symbol_cache& syms = symbols(col(exchange));
    const core::symbol_cache::entry e = syms.resolve(col(symbol));
    if (const parse_result r = check_tick(t.px, t.sz, e); r.status == frame_status::rejected) {
        return r;
    }
    t.inst = e.id;
    t.venue = syms.venue();
    const std::string_view idv = col(id);
    std::uint64_t seq = 0;
    if (!idv.empty() &&
        std::from_chars(idv.data(), idv.data() + idv.size(), seq).ptr == idv.data() + idv.size()) {
        t.seq = seq;
    }
    out.push_back(t);
    return parse_result::of(frame_status::ticks);
}

} // namespace seismo::feeds
