#include "feeds/venues.hpp"

#include "engine/core/time.hpp"
#include "feeds/generic.hpp"
#include "feeds/json_util.hpp"

#include <simdjson.h>

#include <cmath>
#include <cstring>

namespace seismo::feeds {

const char* to_string(venue v) noexcept {
    switch (v) {
    case venue::generic:
        return "generic";
    case venue::binance:
        return "binance";
    case venue::coinbase:
        return "coinbase";
    case venue::kraken:
        return "kraken";
    case venue::okx:
        return "okx";
    case venue::bybit:
        return "bybit";
    }
    return "generic";
}

bool parse_venue(std::string_view s, venue& out) noexcept {
    for (auto v : {venue::generic, venue::binance, venue::coinbase, venue::kraken, venue::okx,
                   venue::bybit}) {
        if (s == to_string(v)) {
            out = v;
            return true;
        }
    }
    return false;
}

namespace {

namespace od = detail::od;
using core::nanos;
using detail::num_status;

constexpr std::uint8_t k_space_trade = 0;
constexpr std::uint8_t k_space_trade2 = 1;
constexpr std::uint8_t k_space_quote = 2;

parse_result malformed(std::string_view why) {
    return parse_result::reject(reject_reason::malformed, why);
}
parse_result missing(std::string_view why) {
    return parse_result::reject(reject_reason::missing_field, why);
}
parse_result bad(std::string_view why) {
    return parse_result::reject(reject_reason::bad_field, why);
}
constexpr parse_result k_ok = parse_result::of(frame_status::ticks);
constexpr parse_result k_control = parse_result::of(frame_status::control);
constexpr parse_result k_ignored = parse_result::of(frame_status::ignored);

/// A number that may be a string; an empty string counts as absent.
struct opt_num {
    double v = 0;
    bool present = false;
};

parse_result read_opt(od::value& val, opt_num& out, std::string_view field_error,
                      std::string_view non_finite) {
    od::json_type t{};
    if (val.type().get(t) != simdjson::SUCCESS) return malformed("not valid JSON");
    if (t == od::json_type::null) return k_ok;
    if (t == od::json_type::string) {
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
bool read_ms(od::value& v, nanos& out) {
    std::uint64_t ms = 0;
    if (!detail::read_uint(v, ms) || ms > static_cast<std::uint64_t>(INT64_MAX / core::k_ns_per_ms))
        return false;
    out = static_cast<nanos>(ms) * core::k_ns_per_ms;
    return true;
}

bool read_rfc3339(od::value& v, nanos& out) {
    std::string_view s;
    return v.get_string().get(s) == simdjson::SUCCESS && core::parse_rfc3339(s, out);
}

/// Kraken v1's "1618678142.557535": decimal seconds, read exactly to the nanosecond.
bool parse_decimal_seconds(std::string_view s, nanos& out) {
    nanos secs = 0, frac = 0;
    std::size_t i = 0, digits = 0;
    for (; i < s.size() && s[i] != '.'; ++i) {
        if (s[i] < '0' || s[i] > '9' || secs > INT64_MAX / 10 / core::k_ns_per_s) return false;
        secs = secs * 10 + (s[i] - '0');
        ++digits;
    }
    if (digits == 0) return false;
    if (i < s.size()) {
        ++i;
        std::size_t n = 0;
        for (; i < s.size(); ++i, ++n) {
            if (s[i] < '0' || s[i] > '9') return false;
            if (n < 9) frac = frac * 10 + (s[i] - '0');
        }
        for (; n < 9; ++n)
            frac *= 10;
    }
    out = secs * core::k_ns_per_s + frac;
    return true;
}

bool is_digits(std::string_view s) {
    if (s.empty() || s.size() > 19) return false;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

std::uint64_t to_u64(std::string_view s) {
    std::uint64_t v = 0;
    for (char c : s)
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    return v;
}

double mid_or(const opt_num& bid, const opt_num& ask, const opt_num& last, bool& ok) {
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

} // namespace

struct venue_parser::impl {
    venue kind;
    core::symbol_cache* symbols;
    std::size_t max_frame;
    od::parser parser;
    std::unique_ptr<generic_parser> generic;
    // per call
    std::vector<core::tick>* out = nullptr;
    nanos recv_ts = 0;
    std::uint64_t connection_seq = 0;

    impl(venue v, core::symbol_cache& s, std::size_t max) : kind(v), symbols(&s), max_frame(max) {
        if (v == venue::generic) generic = std::make_unique<generic_parser>(s, max);
    }

    /// Validates and appends one tick.
    parse_result emit(std::string_view sym, core::tick_kind k, double px, double sz, nanos ts,
                      std::uint64_t seq, std::uint8_t flags) {
        if (sym.empty()) return missing("symbol: missing");
        if (!std::isfinite(px))
            return parse_result::reject(reject_reason::non_finite, "price: not finite");
        if (sz < 0 || !std::isfinite(sz)) return bad("size: negative or not finite");
        const core::symbol_cache::entry e = symbols->resolve(sym);
        if (e.id == core::k_no_instrument) {
            return parse_result::reject(reject_reason::registry_full,
                                        "symbol: instrument registry is full");
        }
        if (e.kind == core::value_kind::price && px <= 0) {
            return parse_result::reject(reject_reason::non_positive, "price: not above zero");
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

    // ------------------------------------------------------------------ binance
    struct binance_state {
        std::string_view e, s;
        opt_num p, q, bid, ask;
        std::uint64_t a_id = 0, t_id = 0, u = 0;
        nanos ts = 0;
        bool has_a_id = false, has_t_id = false, has_u = false, has_stream = false,
             has_data = false;
        bool control = false;
    };

    parse_result binance_fields(od::object obj, binance_state& st, int depth) {
        for (auto fr : obj) {
            if (fr.error() != simdjson::SUCCESS) return malformed("not valid JSON");
            od::field& f = fr.value_unsafe();
            const od::raw_json_string k = f.key();
            od::value& v = f.value();
            if (k.unsafe_is_equal("e")) {
                if (v.get_string().get(st.e) != simdjson::SUCCESS)
                    return bad("e: expected a string");
            } else if (k.unsafe_is_equal("s")) {
                if (v.get_string().get(st.s) != simdjson::SUCCESS)
                    return bad("s: expected a string");
            } else if (k.unsafe_is_equal("p")) {
                SEISMO_TRY(read_opt(v, st.p, "p: expected a decimal", "p: not finite"));
            } else if (k.unsafe_is_equal("q")) {
                SEISMO_TRY(read_opt(v, st.q, "q: expected a decimal", "q: not finite"));
            } else if (k.unsafe_is_equal("a") || k.unsafe_is_equal("b")) {
                // aggTrade id / trade order ids (numbers) or bookTicker prices (strings)
                const bool is_a = k.unsafe_is_equal("a");
                od::json_type t{};
                if (v.type().get(t) != simdjson::SUCCESS) return malformed("not valid JSON");
                if (t == od::json_type::array) continue; // depthUpdate bids/asks: unused
                if (t == od::json_type::number) {
                    std::uint64_t id = 0;
                    if (v.get_uint64().get(id) != simdjson::SUCCESS)
                        return bad("a/b: expected an id");
                    if (is_a) {
                        st.a_id = id;
                        st.has_a_id = true;
                    }
                } else {
                    SEISMO_TRY(read_opt(v, is_a ? st.ask : st.bid, "a/b: expected a decimal",
                                        "a/b: not finite"));
                }
            } else if (k.unsafe_is_equal("t")) {
                if (!detail::read_uint(v, st.t_id)) return bad("t: expected a trade id");
                st.has_t_id = true;
            } else if (k.unsafe_is_equal("u")) {
                if (!detail::read_uint(v, st.u)) return bad("u: expected an update id");
                st.has_u = true;
            } else if (k.unsafe_is_equal("T")) {
                if (!read_ms(v, st.ts))
                    return parse_result::reject(reject_reason::bad_timestamp,
                                                "T: expected epoch ms");
            } else if (depth == 0 && k.unsafe_is_equal("stream")) {
                st.has_stream = true;
            } else if (depth == 0 && k.unsafe_is_equal("data")) {
                od::object d;
                if (v.get_object().get(d) != simdjson::SUCCESS) {
                    // {"stream":..., "data": [...]} carries array streams (!ticker@arr): unused
                    st.has_data = true;
                    continue;
                }
                st.has_data = true;
                SEISMO_TRY(binance_fields(d, st, 1));
            } else if (depth == 0 && (k.unsafe_is_equal("result") || k.unsafe_is_equal("id") ||
                                      k.unsafe_is_equal("method") || k.unsafe_is_equal("error") ||
                                      k.unsafe_is_equal("params") || k.unsafe_is_equal("code"))) {
                st.control = true;
            }
        }
        return k_ok;
    }

    parse_result binance(od::document& doc) {
        od::object obj;
        if (doc.get_object().get(obj) != simdjson::SUCCESS)
            return malformed("not a Binance message (expected an object)");
        binance_state st;
        SEISMO_TRY(binance_fields(obj, st, 0));
        if (st.e == "aggTrade" || st.e == "trade") {
            if (!st.p.present) return missing("p: missing");
            const bool agg = st.e == "aggTrade";
            if (agg ? !st.has_a_id : !st.has_t_id)
                return missing(agg ? "a: missing" : "t: missing");
            return emit(st.s, core::tick_kind::trade, st.p.v, st.q.present ? st.q.v : 0, st.ts,
                        agg ? st.a_id : st.t_id,
                        static_cast<std::uint8_t>((agg ? k_space_trade : k_space_trade2) |
                                                  core::k_seq_contiguous));
        }
        if (st.e == "bookTicker" ||
            (st.e.empty() && st.has_u && (st.bid.present || st.ask.present))) {
            bool ok = false;
            const double px = mid_or(st.bid, st.ask, opt_num{}, ok);
            if (!ok) return missing("b/a: missing");
            return emit(st.s, core::tick_kind::quote, px, 0, st.ts, st.u, k_space_quote);
        }
        if (st.e == "serverShutdown") return k_control;
        if (!st.e.empty()) return k_ignored; // depthUpdate, kline, 24hrTicker, ...
        if (st.control) return k_control;
        if (st.has_stream || st.has_data) return k_ignored;
        return malformed("not a Binance message");
    }

    // ------------------------------------------------------------------ coinbase
    parse_result coinbase_trades(od::array trades) {
        for (auto er : trades) {
            od::value item;
            od::object o;
            if (er.get(item) != simdjson::SUCCESS ||
                item.get_object().get(o) != simdjson::SUCCESS) {
                return malformed("trades: expected objects");
            }
            std::string_view product;
            opt_num price, size;
            nanos ts = 0;
            std::uint64_t id = 0;
            for (auto fr : o) {
                if (fr.error() != simdjson::SUCCESS) return malformed("not valid JSON");
                od::field& f = fr.value_unsafe();
                const od::raw_json_string k = f.key();
                od::value& v = f.value();
                if (k.unsafe_is_equal("product_id")) {
                    if (v.get_string().get(product) != simdjson::SUCCESS)
                        return bad("product_id: expected a string");
                } else if (k.unsafe_is_equal("price")) {
                    SEISMO_TRY(
                        read_opt(v, price, "price: expected a decimal", "price: not finite"));
                } else if (k.unsafe_is_equal("size")) {
                    SEISMO_TRY(read_opt(v, size, "size: expected a decimal", "size: not finite"));
                } else if (k.unsafe_is_equal("time")) {
                    if (!read_rfc3339(v, ts))
                        return parse_result::reject(reject_reason::bad_timestamp,
                                                    "time: expected RFC 3339");
                } else if (k.unsafe_is_equal("trade_id")) {
                    std::string_view s;
                    if (v.get_string().get(s) == simdjson::SUCCESS && is_digits(s)) id = to_u64(s);
                }
            }
            if (!price.present) return missing("price: missing");
            SEISMO_TRY(emit(product, core::tick_kind::trade, price.v, size.present ? size.v : 0, ts,
                            id, k_space_trade));
        }
        return k_ok;
    }

    parse_result coinbase(od::document& doc) {
        od::object obj;
        if (doc.get_object().get(obj) != simdjson::SUCCESS)
            return malformed("not a Coinbase message (expected an object)");
        std::string_view type, channel, product;
        opt_num price, size, bid, ask;
        nanos ts = 0;
        std::uint64_t trade_id = 0, sequence = 0;
        bool has_trade_id = false;
        const std::size_t start = out->size();
        for (auto fr : obj) {
            if (fr.error() != simdjson::SUCCESS) return malformed("not valid JSON");
            od::field& f = fr.value_unsafe();
            const od::raw_json_string k = f.key();
            od::value& v = f.value();
            if (k.unsafe_is_equal("type")) {
                if (v.get_string().get(type) != simdjson::SUCCESS)
                    return bad("type: expected a string");
            } else if (k.unsafe_is_equal("channel")) {
                if (v.get_string().get(channel) != simdjson::SUCCESS)
                    return bad("channel: expected a string");
            } else if (k.unsafe_is_equal("product_id")) {
                if (v.get_string().get(product) != simdjson::SUCCESS)
                    return bad("product_id: expected a string");
            } else if (k.unsafe_is_equal("price")) {
                SEISMO_TRY(read_opt(v, price, "price: expected a decimal", "price: not finite"));
            } else if (k.unsafe_is_equal("size") || k.unsafe_is_equal("last_size")) {
                SEISMO_TRY(read_opt(v, size, "size: expected a decimal", "size: not finite"));
            } else if (k.unsafe_is_equal("best_bid")) {
                SEISMO_TRY(
                    read_opt(v, bid, "best_bid: expected a decimal", "best_bid: not finite"));
            } else if (k.unsafe_is_equal("best_ask")) {
                SEISMO_TRY(
                    read_opt(v, ask, "best_ask: expected a decimal", "best_ask: not finite"));
            } else if (k.unsafe_is_equal("time")) {
                if (!read_rfc3339(v, ts))
                    return parse_result::reject(reject_reason::bad_timestamp,
                                                "time: expected RFC 3339");
            } else if (k.unsafe_is_equal("trade_id")) {
                if (!detail::read_uint(v, trade_id)) return bad("trade_id: expected an integer");
                has_trade_id = true;
            } else if (k.unsafe_is_equal("sequence")) {
                if (!detail::read_uint(v, sequence)) return bad("sequence: expected an integer");
            } else if (k.unsafe_is_equal("sequence_num")) {
                std::uint64_t n = 0;
                if (!detail::read_uint(v, n)) return bad("sequence_num: expected an integer");
                connection_seq = n + 1; // 0 means "none"
            } else if (k.unsafe_is_equal("events")) {
                od::array events;
                if (v.get_array().get(events) != simdjson::SUCCESS)
                    return bad("events: expected an array");
                for (auto ev : events) {
                    od::value e;
                    od::object eo;
                    if (ev.get(e) != simdjson::SUCCESS ||
                        e.get_object().get(eo) != simdjson::SUCCESS) {
                        return malformed("events: expected objects");
                    }
                    for (auto efr : eo) {
                        if (efr.error() != simdjson::SUCCESS) return malformed("not valid JSON");
                        od::field& ef = efr.value_unsafe();
                        if (ef.key().unsafe_is_equal("trades")) {
                            od::array trades;
                            if (ef.value().get_array().get(trades) != simdjson::SUCCESS)
                                return bad("trades: expected an array");
                            SEISMO_TRY(coinbase_trades(trades));
                        }
                    }
                }
            }
        }
        if (type == "subscribe" || type == "unsubscribe") return k_control; // our own requests
        if (!channel.empty()) {                                             // Advanced Trade
            if (channel == "market_trades") return out->size() > start ? k_ok : k_ignored;
            out->resize(start);
            if (channel == "subscriptions" || channel == "heartbeats") return k_control;
            return k_ignored;
        }
        if (type == "match" || type == "last_match") {
            if (!price.present) return missing("price: missing");
            if (!has_trade_id) return missing("trade_id: missing");
            return emit(product, core::tick_kind::trade, price.v, size.present ? size.v : 0, ts,
                        trade_id, k_space_trade | core::k_seq_contiguous);
        }
        if (type == "ticker") {
            bool ok = false;
            const double px = mid_or(bid, ask, price, ok);
            if (!ok) return missing("price: missing");
            return emit(product, core::tick_kind::quote, px, 0, ts, sequence, k_space_quote);
        }
        if (type == "subscriptions" || type == "heartbeat" || type == "error" ||
            type == "subscribe" || type == "unsubscribe" || type == "status") {
            return k_control;
        }
        if (!type.empty()) return k_ignored; // l2update, snapshot, received, open, done, ...
        return malformed("not a Coinbase message (no type or channel)");
    }

    // ------------------------------------------------------------------ kraken
    parse_result kraken_v1_trades(od::array trades, std::string_view pair) {
        for (auto er : trades) {
            od::value item;
            od::array a;
            if (er.get(item) != simdjson::SUCCESS || item.get_array().get(a) != simdjson::SUCCESS) {
                return malformed("trade: expected arrays");
            }
            opt_num price, volume;
            nanos ts = 0;
            std::size_t i = 0;
            for (auto fr : a) {
                od::value v;
                if (fr.get(v) != simdjson::SUCCESS) return malformed("not valid JSON");
                if (i == 0) {
                    SEISMO_TRY(read_opt(v, price, "trade price: expected a decimal",
                                        "trade price: not finite"));
                } else if (i == 1) {
                    SEISMO_TRY(read_opt(v, volume, "trade volume: expected a decimal",
                                        "trade volume: not finite"));
                } else if (i == 2) {
                    std::string_view s;
                    if (v.get_string().get(s) != simdjson::SUCCESS ||
                        !parse_decimal_seconds(s, ts)) {
                        return parse_result::reject(reject_reason::bad_timestamp,
                                                    "trade time: expected decimal seconds");
                    }
                }
                ++i;
            }
            if (!price.present) return missing("trade price: missing");
            SEISMO_TRY(emit(pair, core::tick_kind::trade, price.v, volume.present ? volume.v : 0,
                            ts, 0, k_space_trade));
        }
        return k_ok;
    }

    /// The first element of one of a v1 ticker's arrays ("a", "b", "c").
    static parse_result first_of(od::value& v, opt_num& out) {
        od::array a;
        if (v.get_array().get(a) != simdjson::SUCCESS) return bad("ticker: expected arrays");
        for (auto fr : a) {
            od::value x;
            if (fr.get(x) != simdjson::SUCCESS) return malformed("not valid JSON");
            return read_opt(x, out, "ticker price: expected a decimal", "ticker price: not finite");
        }
        return k_ok;
    }

    parse_result kraken_v1_ticker(od::object o, std::string_view pair) {
        opt_num ask, bid, last;
        for (auto fr : o) {
            if (fr.error() != simdjson::SUCCESS) return malformed("not valid JSON");
            od::field& f = fr.value_unsafe();
            const od::raw_json_string k = f.key();
            if (k.unsafe_is_equal("a"))
                SEISMO_TRY(first_of(f.value(), ask));
            else if (k.unsafe_is_equal("b"))
                SEISMO_TRY(first_of(f.value(), bid));
            else if (k.unsafe_is_equal("c"))
                SEISMO_TRY(first_of(f.value(), last));
        }
        bool ok = false;
        const double px = mid_or(bid, ask, last, ok);
        if (!ok) return missing("ticker: no bid/ask or last price");
        return emit(pair, core::tick_kind::quote, px, 0, 0, 0, k_space_quote);
    }

    parse_result kraken_v1_array(od::document& doc) {
        // First pass: the channel name and pair are the last two strings.
        std::string_view name, pair;
        {
            od::array arr;
            if (doc.get_array().get(arr) != simdjson::SUCCESS) return malformed("not valid JSON");
            for (auto er : arr) {
                od::value v;
                if (er.get(v) != simdjson::SUCCESS) return malformed("not valid JSON");
                od::json_type t{};
                if (v.type().get(t) != simdjson::SUCCESS) return malformed("not valid JSON");
                if (t == od::json_type::string) {
                    name = pair;
                    if (v.get_string().get(pair) != simdjson::SUCCESS)
                        return malformed("not valid JSON");
                }
            }
        }
        if (name.empty())
            return malformed("not a Kraken channel message (no channel name and pair)");
        const bool trade = name == "trade";
        const bool ticker = name == "ticker";
        if (!trade && !ticker) return k_ignored; // book-*, spread, ohlc-*, ...
        small_string pair_copy; // the rewind below reuses the buffer `pair` points into
        if (!pair_copy.assign(pair)) return bad("pair: too long");
        pair = pair_copy.view();
        doc.rewind();
        od::array arr;
        if (doc.get_array().get(arr) != simdjson::SUCCESS) return malformed("not valid JSON");
        std::size_t i = 0;
        for (auto er : arr) {
            od::value v;
            if (er.get(v) != simdjson::SUCCESS) return malformed("not valid JSON");
            if (i++ != 1) continue;
            if (trade) {
                od::array trades;
                if (v.get_array().get(trades) != simdjson::SUCCESS)
                    return bad("trade: expected an array of trades");
                return kraken_v1_trades(trades, pair);
            }
            od::object o;
            if (v.get_object().get(o) != simdjson::SUCCESS)
                return bad("ticker: expected an object");
            return kraken_v1_ticker(o, pair);
        }
        return missing("channel payload: missing");
    }

    parse_result kraken_v2_data(od::array data, bool trade) {
        for (auto er : data) {
            od::value item;
            od::object o;
            if (er.get(item) != simdjson::SUCCESS ||
                item.get_object().get(o) != simdjson::SUCCESS) {
                return malformed("data: expected objects");
            }
            std::string_view sym;
            opt_num price, qty, bid, ask, last;
            nanos ts = 0;
            std::uint64_t id = 0;
            for (auto fr : o) {
                if (fr.error() != simdjson::SUCCESS) return malformed("not valid JSON");
                od::field& f = fr.value_unsafe();
                const od::raw_json_string k = f.key();
                od::value& v = f.value();
                if (k.unsafe_is_equal("symbol")) {
                    if (v.get_string().get(sym) != simdjson::SUCCESS)
                        return bad("symbol: expected a string");
                } else if (k.unsafe_is_equal("price")) {
                    SEISMO_TRY(read_opt(v, price, "price: expected a number", "price: not finite"));
                } else if (k.unsafe_is_equal("qty")) {
                    SEISMO_TRY(read_opt(v, qty, "qty: expected a number", "qty: not finite"));
                } else if (k.unsafe_is_equal("bid")) {
                    SEISMO_TRY(read_opt(v, bid, "bid: expected a number", "bid: not finite"));
                } else if (k.unsafe_is_equal("ask")) {
                    SEISMO_TRY(read_opt(v, ask, "ask: expected a number", "ask: not finite"));
                } else if (k.unsafe_is_equal("last")) {
                    SEISMO_TRY(read_opt(v, last, "last: expected a number", "last: not finite"));
                } else if (k.unsafe_is_equal("trade_id")) {
                    if (!detail::read_uint(v, id)) return bad("trade_id: expected an integer");
                } else if (k.unsafe_is_equal("timestamp")) {
                    if (!read_rfc3339(v, ts))
                        return parse_result::reject(reject_reason::bad_timestamp,
                                                    "timestamp: expected RFC 3339");
                }
            }
            if (trade) {
                if (!price.present) return missing("price: missing");
                SEISMO_TRY(emit(sym, core::tick_kind::trade, price.v, qty.present ? qty.v : 0, ts,
                                id, k_space_trade | core::k_seq_contiguous));
            } else {
                bool ok = false;
                const double px = mid_or(bid, ask, last, ok);
                if (!ok) return missing("ticker: no bid/ask or last price");
                SEISMO_TRY(emit(sym, core::tick_kind::quote, px, 0, ts, 0, k_space_quote));
            }
        }
        return k_ok;
    }

    parse_result kraken(od::document& doc) {
        od::json_type t{};
        if (doc.type().get(t) != simdjson::SUCCESS) return malformed("not valid JSON");
        if (t == od::json_type::array) return kraken_v1_array(doc);
        od::object obj;
        if (doc.get_object().get(obj) != simdjson::SUCCESS)
            return malformed("not a Kraken message");
        std::string_view channel;
        small_string channel_copy;
        bool control = false, data_pending = false;
        const std::size_t start = out->size();
        for (int pass = 0; pass < 2; ++pass) {
            for (auto fr : obj) {
                if (fr.error() != simdjson::SUCCESS) return malformed("not valid JSON");
                od::field& f = fr.value_unsafe();
                const od::raw_json_string k = f.key();
                od::value& v = f.value();
                if (k.unsafe_is_equal("event") || k.unsafe_is_equal("method")) {
                    control = true;
                } else if (k.unsafe_is_equal("channel") && pass == 0) {
                    std::string_view c;
                    if (v.get_string().get(c) != simdjson::SUCCESS || !channel_copy.assign(c)) {
                        return bad("channel: expected a short string");
                    }
                    channel = channel_copy.view();
                } else if (k.unsafe_is_equal("data")) {
                    if (channel.empty()) {
                        data_pending = pass == 0;
                        continue;
                    }
                    if (channel != "trade" && channel != "ticker") continue;
                    od::array data;
                    if (v.get_array().get(data) != simdjson::SUCCESS)
                        return bad("data: expected an array");
                    SEISMO_TRY(kraken_v2_data(data, channel == "trade"));
                    data_pending = false;
                }
            }
            if (!data_pending || (channel != "trade" && channel != "ticker")) break;
            // "data" came before "channel": read it again now that the channel is known.
            doc.rewind();
            if (doc.get_object().get(obj) != simdjson::SUCCESS) return malformed("not valid JSON");
        }
        if (control) return k_control;
        if (channel == "trade" || channel == "ticker")
            return out->size() > start ? k_ok : k_ignored;
        if (channel == "heartbeat" || channel == "status") return k_control;
        if (!channel.empty()) return k_ignored; // book, ohlc, instrument, ...
        return malformed("not a Kraken message (no event, method or channel)");
    }

    // ------------------------------------------------------------------ okx
    parse_result okx_data(od::array data, bool trades, bool contiguous) {
        for (auto er : data) {
            od::value item;
            od::object o;
            if (er.get(item) != simdjson::SUCCESS ||
                item.get_object().get(o) != simdjson::SUCCESS) {
                return malformed("data: expected objects");
            }
            std::string_view inst;
            opt_num px, sz, bid, ask, last;
            nanos ts = 0;
            std::uint64_t id = 0;
            for (auto fr : o) {
                if (fr.error() != simdjson::SUCCESS) return malformed("not valid JSON");
                od::field& f = fr.value_unsafe();
                const od::raw_json_string k = f.key();
                od::value& v = f.value();
                if (k.unsafe_is_equal("instId")) {
                    if (v.get_string().get(inst) != simdjson::SUCCESS)
                        return bad("instId: expected a string");
                } else if (k.unsafe_is_equal("px")) {
                    SEISMO_TRY(read_opt(v, px, "px: expected a decimal", "px: not finite"));
                } else if (k.unsafe_is_equal("sz")) {
                    SEISMO_TRY(read_opt(v, sz, "sz: expected a decimal", "sz: not finite"));
                } else if (k.unsafe_is_equal("bidPx")) {
                    SEISMO_TRY(read_opt(v, bid, "bidPx: expected a decimal", "bidPx: not finite"));
                } else if (k.unsafe_is_equal("askPx")) {
                    SEISMO_TRY(read_opt(v, ask, "askPx: expected a decimal", "askPx: not finite"));
                } else if (k.unsafe_is_equal("last")) {
                    SEISMO_TRY(read_opt(v, last, "last: expected a decimal", "last: not finite"));
                } else if (k.unsafe_is_equal("tradeId")) {
                    if (!detail::read_uint(v, id)) return bad("tradeId: expected an integer");
                } else if (k.unsafe_is_equal("ts")) {
                    if (!read_ms(v, ts))
                        return parse_result::reject(reject_reason::bad_timestamp,
                                                    "ts: expected epoch ms");
                }
            }
            if (trades) {
                if (!px.present) return missing("px: missing");
                SEISMO_TRY(emit(inst, core::tick_kind::trade, px.v, sz.present ? sz.v : 0, ts, id,
                                static_cast<std::uint8_t>(
                                    k_space_trade | (contiguous ? core::k_seq_contiguous : 0))));
            } else {
                bool ok = false;
                const double p = mid_or(bid, ask, last, ok);
                if (!ok) return missing("tickers: no bid/ask or last price");
                SEISMO_TRY(emit(inst, core::tick_kind::quote, p, 0, ts, 0, k_space_quote));
            }
        }
        return k_ok;
    }

    parse_result okx(od::document& doc, std::string_view raw) {
        if (raw == "pong") return k_control; // answer to our text "ping"
        od::object obj;
        if (doc.get_object().get(obj) != simdjson::SUCCESS)
            return malformed("not an OKX message (expected an object)");
        std::string_view channel;
        small_string channel_copy;
        bool control = false, data_pending = false, has_arg = false;
        const std::size_t start = out->size();
        for (int pass = 0; pass < 2; ++pass) {
            for (auto fr : obj) {
                if (fr.error() != simdjson::SUCCESS) return malformed("not valid JSON");
                od::field& f = fr.value_unsafe();
                const od::raw_json_string k = f.key();
                od::value& v = f.value();
                if (k.unsafe_is_equal("event") || k.unsafe_is_equal("op")) {
                    control = true;
                } else if (k.unsafe_is_equal("arg") && pass == 0) {
                    has_arg = true;
                    od::object arg;
                    if (v.get_object().get(arg) != simdjson::SUCCESS)
                        return bad("arg: expected an object");
                    for (auto afr : arg) {
                        if (afr.error() != simdjson::SUCCESS) return malformed("not valid JSON");
                        od::field& af = afr.value_unsafe();
                        if (af.key().unsafe_is_equal("channel")) {
                            std::string_view c;
                            if (af.value().get_string().get(c) != simdjson::SUCCESS ||
                                !channel_copy.assign(c)) {
                                return bad("arg.channel: expected a short string");
                            }
                            channel = channel_copy.view();
                        }
                    }
                } else if (k.unsafe_is_equal("data")) {
                    if (!has_arg) {
                        data_pending = pass == 0;
                        continue;
                    }
                    const bool trades = channel == "trades" || channel == "trades-all";
                    if (control || (!trades && channel != "tickers")) continue;
                    od::array data;
                    if (v.get_array().get(data) != simdjson::SUCCESS)
                        return bad("data: expected an array");
                    SEISMO_TRY(okx_data(data, trades, channel == "trades-all"));
                    data_pending = false;
                }
            }
            if (!data_pending || !has_arg) break;
            doc.rewind();
            if (doc.get_object().get(obj) != simdjson::SUCCESS) return malformed("not valid JSON");
        }
        if (control) {
            out->resize(start);
            return k_control;
        }
        if (channel == "trades" || channel == "trades-all" || channel == "tickers")
            return out->size() > start ? k_ok : k_ignored;
        if (has_arg) return k_ignored; // books, candles, ...
        return malformed("not an OKX message (no event, op or arg)");
    }

    // ------------------------------------------------------------------ bybit
    parse_result bybit_item(od::object o, bool trade, nanos frame_ts) {
        std::string_view sym, id;
        opt_num p, v_, bid, ask, last;
        nanos ts = frame_ts;
        for (auto fr : o) {
            if (fr.error() != simdjson::SUCCESS) return malformed("not valid JSON");
            od::field& f = fr.value_unsafe();
            const od::raw_json_string k = f.key();
            od::value& v = f.value();
            if (k.unsafe_is_equal("s") || k.unsafe_is_equal("symbol")) {
                if (v.get_string().get(sym) != simdjson::SUCCESS)
                    return bad("symbol: expected a string");
            } else if (k.unsafe_is_equal("p")) {
                SEISMO_TRY(read_opt(v, p, "p: expected a decimal", "p: not finite"));
            } else if (k.unsafe_is_equal("v")) {
                SEISMO_TRY(read_opt(v, v_, "v: expected a decimal", "v: not finite"));
            } else if (k.unsafe_is_equal("T")) {
                if (!read_ms(v, ts))
                    return parse_result::reject(reject_reason::bad_timestamp,
                                                "T: expected epoch ms");
            } else if (k.unsafe_is_equal("i")) {
                if (v.get_string().get(id) != simdjson::SUCCESS) id = {};
            } else if (k.unsafe_is_equal("bid1Price")) {
                SEISMO_TRY(
                    read_opt(v, bid, "bid1Price: expected a decimal", "bid1Price: not finite"));
            } else if (k.unsafe_is_equal("ask1Price")) {
                SEISMO_TRY(
                    read_opt(v, ask, "ask1Price: expected a decimal", "ask1Price: not finite"));
            } else if (k.unsafe_is_equal("lastPrice")) {
                SEISMO_TRY(
                    read_opt(v, last, "lastPrice: expected a decimal", "lastPrice: not finite"));
            }
        }
        if (trade) {
            if (!p.present) return missing("p: missing");
            return emit(sym, core::tick_kind::trade, p.v, v_.present ? v_.v : 0, ts,
                        is_digits(id) ? to_u64(id) : 0, k_space_trade);
        }
        bool ok = false;
        const double px = mid_or(bid, ask, last, ok);
        if (!ok) return k_ignored; // a delta that changed no price
        return emit(sym, core::tick_kind::quote, px, 0, ts, 0, k_space_quote);
    }

    parse_result bybit(od::document& doc) {
        od::object obj;
        if (doc.get_object().get(obj) != simdjson::SUCCESS)
            return malformed("not a Bybit message (expected an object)");
        std::string_view topic;
        small_string topic_copy;
        bool control = false, data_pending = false;
        nanos frame_ts = 0;
        const std::size_t start = out->size();
        for (int pass = 0; pass < 2; ++pass) {
            for (auto fr : obj) {
                if (fr.error() != simdjson::SUCCESS) return malformed("not valid JSON");
                od::field& f = fr.value_unsafe();
                const od::raw_json_string k = f.key();
                od::value& v = f.value();
                if (k.unsafe_is_equal("op") || k.unsafe_is_equal("success") ||
                    k.unsafe_is_equal("ret_msg")) {
                    control = true;
                } else if (k.unsafe_is_equal("topic") && pass == 0) {
                    std::string_view tp;
                    if (v.get_string().get(tp) != simdjson::SUCCESS || !topic_copy.assign(tp)) {
                        return bad("topic: expected a short string");
                    }
                    topic = topic_copy.view();
                } else if (k.unsafe_is_equal("ts") && pass == 0) {
                    if (!read_ms(v, frame_ts))
                        return parse_result::reject(reject_reason::bad_timestamp,
                                                    "ts: expected epoch ms");
                } else if (k.unsafe_is_equal("data")) {
                    if (topic.empty()) {
                        data_pending = pass == 0;
                        continue;
                    }
                    const bool trade = topic.starts_with("publicTrade.");
                    if (!trade && !topic.starts_with("tickers.")) continue;
                    od::json_type t{};
                    if (v.type().get(t) != simdjson::SUCCESS) return malformed("not valid JSON");
                    if (t == od::json_type::array) {
                        od::array data;
                        if (v.get_array().get(data) != simdjson::SUCCESS)
                            return malformed("not valid JSON");
                        for (auto er : data) {
                            od::value item;
                            od::object o;
                            if (er.get(item) != simdjson::SUCCESS ||
                                item.get_object().get(o) != simdjson::SUCCESS) {
                                return malformed("data: expected objects");
                            }
                            SEISMO_TRY(bybit_item(o, trade, frame_ts));
                        }
                    } else {
                        od::object o;
                        if (v.get_object().get(o) != simdjson::SUCCESS)
                            return bad("data: expected an object or array");
                        SEISMO_TRY(bybit_item(o, trade, frame_ts));
                    }
                    data_pending = false;
                }
            }
            if (!data_pending || topic.empty()) break;
            doc.rewind();
            if (doc.get_object().get(obj) != simdjson::SUCCESS) return malformed("not valid JSON");
        }
        // A ticker's "ts" may follow its "data": give the frame time to ticks that had none.
        for (std::size_t i = start; i < out->size(); ++i) {
            if ((*out)[i].exch_ts == 0) (*out)[i].exch_ts = frame_ts;
        }
        if (control) {
            out->resize(start);
            return k_control;
        }
        if (topic.starts_with("publicTrade.") || topic.starts_with("tickers."))
            return out->size() > start ? k_ok : k_ignored;
        if (!topic.empty()) return k_ignored; // orderbook.*, kline.*, ...
        return malformed("not a Bybit message (no op or topic)");
    }

    parse_result parse(const char* data, std::size_t len, std::size_t capacity, nanos recv,
                       std::vector<core::tick>& o) {
        if (kind == venue::generic) return generic->parse(data, len, capacity, recv, o);
        if (len > max_frame)
            return parse_result::reject(reject_reason::oversize, "frame larger than the limit");
        out = &o;
        recv_ts = recv;
        connection_seq = 0;
        const std::size_t start = o.size();
        const std::string_view raw(data, len);
        if (kind == venue::okx && raw == "pong") return k_control;
        od::document doc;
        if (parser.iterate(data, len, capacity).get(doc) != simdjson::SUCCESS) {
            return malformed("not valid JSON");
        }
        od::json_type root{};
        if (doc.type().get(root) != simdjson::SUCCESS) return malformed("not valid JSON");
        parse_result r = k_ignored;
        switch (kind) {
        case venue::binance:
            r = binance(doc);
            break;
        case venue::coinbase:
            r = coinbase(doc);
            break;
        case venue::kraken:
            r = kraken(doc);
            break;
        case venue::okx:
            r = okx(doc, raw);
            break;
        case venue::bybit:
            r = bybit(doc);
            break;
        case venue::generic:
            break;
        }
        // Trailing bytes after a root object (every adapter walks a root object to its end;
        // Kraken v1's root arrays are read selectively and left alone).
        if (r.status != frame_status::rejected && root == od::json_type::object &&
            doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
            r = malformed("trailing content after JSON");
        }
        if (r.status == frame_status::rejected) {
            o.resize(start);
        } else {
            r.connection_seq = connection_seq;
        }
        return r;
    }
};

venue_parser::venue_parser(venue v, core::symbol_cache& symbols, std::size_t max_frame)
    : p_(std::make_unique<impl>(v, symbols, max_frame)) {}
venue_parser::~venue_parser() = default;

parse_result venue_parser::parse(const char* data, std::size_t len, std::size_t capacity,
                                 core::nanos recv_ts, std::vector<core::tick>& out) {
    return p_->parse(data, len, capacity, recv_ts, out);
}

venue venue_parser::kind() const noexcept {
    return p_->kind;
}

} // namespace seismo::feeds
