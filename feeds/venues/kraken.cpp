// Kraken (DESIGN §4): v1 array frames (`trade`, `ticker`) and v2 objects (`trade`, `ticker`),
// told apart per frame; subscribes with v1 `subscribe` events, or v2 `subscribe` methods when the
// URL path has `/v2`; WebSocket pings (Kraken also sends heartbeats). Gaps: v2 `trade_id`.
#include "feeds/venues/adapter.hpp"

namespace seismo::feeds::detail {
namespace {

/// Kraken v1's "1618678142.557535": decimal seconds, read exactly to the nanosecond.
bool parse_decimal_seconds(std::string_view s, nanos& out) {
    nanos secs = 0, frac = 0;
    std::size_t i = 0, digits = 0;
    for (; i < s.size() && s[i] != '.'; ++i) {
        if (s[i] < '0' || s[i] > '9' || secs > INT64_MAX / 10 / core::k_ns_per_s) return false;
        secs = secs * 10 + (s[i] - '0');
        ++digits;
    }
    if (digits == 0 || secs > (INT64_MAX - core::k_ns_per_s) / core::k_ns_per_s) return false;
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

std::vector<std::string> subscribe(const subscription& s) {
    std::vector<std::string> out;
    std::vector<std::string> channels = s.channels;
    if (channels.empty()) channels = {"trade"};
    for (const auto& c : channels) {
        if (s.url.find("/v2") != std::string_view::npos) {
            out.push_back(R"({"method":"subscribe","params":{"channel":")" + c + R"(","symbol":)" +
                          json_list(s.symbols) + "}}");
        } else {
            out.push_back(R"({"event":"subscribe","pair":)" + json_list(s.symbols) +
                          R"(,"subscription":{"name":")" + c + R"("}})");
        }
    }
    return out;
}

struct kraken_parser : venue_context {
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
};

} // namespace

parse_result parse_kraken(venue_context& c, od::document& doc, std::string_view /*raw*/) {
    kraken_parser p{c};
    const parse_result r = p.kraken(doc);
    c = p; // the per-call state it changed (connection_seq)
    return r;
}

const venue_info k_kraken_info{venue::kraken,
                               "kraken",
                               "Kraken v1 (array frames) and v2: trade, ticker",
                               keepalive_kind::ws_ping,
                               {},
                               25 * core::k_ns_per_s,
                               0,
                               &subscribe};

} // namespace seismo::feeds::detail
