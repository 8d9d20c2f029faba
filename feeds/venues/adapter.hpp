#pragma once
// What the venue adapters share (internal to feeds/: .cpp files only, it pulls in simdjson): the
// per-call context that validates and appends ticks, numbers that may arrive as strings, times,
// and the declarations of each venue's parser and description (feeds/venues/<name>.cpp).

#include "engine/core/instrument_registry.hpp"
#include "engine/core/time.hpp"
#include "feeds/frame.hpp"
#include "feeds/json_util.hpp"
#include "feeds/tick_check.hpp"
#include "feeds/venue.hpp"

#include <simdjson.h>

#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace seismo::feeds::detail {

using core::nanos;

constexpr std::uint8_t k_space_trade = 0;
constexpr std::uint8_t k_space_trade2 = 1;
constexpr std::uint8_t k_space_quote = 2;

inline parse_result malformed(std::string_view why) {
    return parse_result::reject(reject_reason::malformed, why);
}
inline parse_result missing(std::string_view why) {
    return parse_result::reject(reject_reason::missing_field, why);
}
inline parse_result bad(std::string_view why) {
    return parse_result::reject(reject_reason::bad_field, why);
}
constexpr parse_result k_ok = parse_result::of(frame_status::ticks);
constexpr parse_result k_control = parse_result::of(frame_status::control);
constexpr parse_result k_ignored = parse_result::of(frame_status::ignored);

/// The first bytes of the keys an adapter reads. Most fields of a venue frame are ones seismo
/// does not read (Binance's E, m, M, f, l; OKX's open24h, vol24h, ...): a key whose first byte
/// is not in the set is skipped with one lookup, not compared with every name in turn.
class key_initials {
  public:
    consteval explicit key_initials(std::string_view firsts) {
        for (const char c : firsts)
            bits_[static_cast<unsigned char>(c)] = true;
    }
    [[nodiscard]] bool may_match(od::raw_json_string k) const noexcept {
        return bits_[static_cast<unsigned char>(k.raw()[0])];
    }

  private:
    std::array<bool, 256> bits_{};
};

/// A number that may be a string; an empty string counts as absent.
struct opt_num {
    double v = 0;
    bool present = false;
};

inline parse_result read_opt(od::value& val, opt_num& out, std::string_view field_error,
                             std::string_view non_finite) {
    od::json_type t{};
    if (val.type().get(t) != simdjson::SUCCESS) return malformed("not valid JSON");
    if (t == od::json_type::null) return k_ok;
    if (t == od::json_type::string) {
        // A decimal in a string ("0.35280000", as venues send prices) is read in place; anything
        // else (empty, "+1", ".5", "1e999", escapes) takes the unescaping path below, which a
        // failed get_double_in_string leaves the value to.
        double d = 0;
        if (val.get_double_in_string().get(d) == simdjson::SUCCESS) {
            if (!std::isfinite(d))
                return detail::number_error(num_status::non_finite, field_error, non_finite);
            out.v = d;
            out.present = true;
            return k_ok;
        }
        std::string_view s;
        if (val.get_string().get(s) != simdjson::SUCCESS) return malformed("not valid JSON");
        if (s.empty()) return k_ok;
        const num_status st = detail::parse_decimal(s, out.v);
        if (st != num_status::ok) return detail::number_error(st, field_error, non_finite);
        out.present = true;
        return k_ok;
    }
    const num_status st = detail::read_number(val, out.v);
    if (st != num_status::ok) return detail::number_error(st, field_error, non_finite);
    out.present = true;
    return k_ok;
}

/// Epoch milliseconds as a number or a string of digits.
inline bool read_ms(od::value& v, nanos& out) {
    std::uint64_t ms = 0;
    if (!detail::read_uint(v, ms) || ms > static_cast<std::uint64_t>(INT64_MAX / core::k_ns_per_ms))
        return false;
    out = static_cast<nanos>(ms) * core::k_ns_per_ms;
    return true;
}

inline bool read_rfc3339(od::value& v, nanos& out) {
    std::string_view s;
    return v.get_string().get(s) == simdjson::SUCCESS && core::parse_rfc3339(s, out);
}

inline bool is_digits(std::string_view s) {
    if (s.empty() || s.size() > 19) return false;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

inline std::uint64_t to_u64(std::string_view s) {
    std::uint64_t v = 0;
    for (char c : s)
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    return v;
}

inline double mid_or(const opt_num& bid, const opt_num& ask, const opt_num& last, bool& ok) {
    if (bid.present && ask.present && bid.v > 0 && ask.v > 0) {
        ok = true;
        return (bid.v + ask.v) / 2;
    }
    ok = last.present;
    return last.v;
}

/// A short string copied out of simdjson's string buffer, which a document rewind reuses.
class small_string {
  public:
    bool assign(std::string_view s) noexcept {
        if (s.size() > sizeof buf_) return false;
        std::memcpy(buf_, s.data(), s.size());
        n_ = s.size();
        return true;
    }
    [[nodiscard]] std::string_view view() const noexcept { return {buf_, n_}; }

  private:
    char buf_[64]{};
    std::size_t n_ = 0;
};

#define SEISMO_TRY(expr)                                                                           \
    do {                                                                                           \
        const parse_result r_ = (expr);                                                            \
        if (r_.status == frame_status::rejected) return r_;                                        \
    } while (false)

/// What a venue's parser works with while it parses one frame. Each venue's parser derives from
/// it, so its code reads `emit(...)`, `out`, `recv_ts`.
struct venue_context {
    core::symbol_cache* symbols = nullptr;
    std::vector<core::tick>* out = nullptr;
    nanos recv_ts = 0;
    std::uint64_t connection_seq = 0; ///< set by venues that number messages per connection

    /// Validates one tick (feeds/tick_check.hpp) and appends it.
    parse_result emit(std::string_view sym, core::tick_kind k, double px, double sz, nanos ts,
                      std::uint64_t seq, std::uint8_t flags) {
        if (sym.empty()) return missing("symbol: missing");
        const core::symbol_cache::entry e = symbols->resolve(sym);
        if (const parse_result r = check_tick(px, sz, e); r.status == frame_status::rejected) {
            return r;
        }
        core::tick t;
        t.inst = e.id;
        t.venue = symbols->venue();
        t.kind = k;
        t.px = px;
        t.sz = sz;
        t.exch_ts = ts;
        t.recv_ts = recv_ts;
        t.seq = seq;
        t.flags = flags;
        out->push_back(t);
        return k_ok;
    }
};

/// `["<prefix>a<suffix>","<prefix>b<suffix>"]` (subscribe messages).
inline std::string json_list(const std::vector<std::string>& v, const std::string& prefix = {},
                             const std::string& suffix = {}) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i != 0) s += ',';
        s += '"' + prefix + v[i] + suffix + '"';
    }
    return s + "]";
}

inline std::string lower(std::string s) {
    for (auto& c : s)
        c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    return s;
}

/// Each venue's parser: one frame that simdjson has started to iterate (`raw`: its bytes).
parse_result parse_binance(venue_context& c, od::document& doc, std::string_view raw);
parse_result parse_coinbase(venue_context& c, od::document& doc, std::string_view raw);
parse_result parse_kraken(venue_context& c, od::document& doc, std::string_view raw);
parse_result parse_okx(venue_context& c, od::document& doc, std::string_view raw);
parse_result parse_bybit(venue_context& c, od::document& doc, std::string_view raw);

/// Each venue's description (constant-initialised, so the table can point at them).
extern const venue_info k_generic_info;
extern const venue_info k_binance_info;
extern const venue_info k_coinbase_info;
extern const venue_info k_kraken_info;
extern const venue_info k_okx_info;
extern const venue_info k_bybit_info;

} // namespace seismo::feeds::detail
