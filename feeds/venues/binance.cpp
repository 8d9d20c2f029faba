// Binance spot, Binance.US and USD-M futures (DESIGN §4): `trade`, `aggTrade` and `bookTicker`
// frames, raw (`/ws`) or wrapped in the combined-stream envelope (`/stream`); `SUBSCRIBE` with
// `<symbol>@<channel>` (default `aggTrade`); WebSocket pings (Binance's own are answered by the
// WebSocket layer); connections rotated at 23 h 50 min, before Binance's own 24 h cut. Gaps are
// judged on `aggTrade`'s `a` and `trade`'s `t` per symbol, each contiguous at the venue.
#include "feeds/venues/adapter.hpp"

namespace seismo::feeds::detail {
namespace {

struct binance_parser : venue_context {
    struct binance_state {
        std::string_view e, s, x;
        opt_num p, q, bid, ask;
        std::uint64_t a_id = 0, t_id = 0, u = 0;
        nanos ts = 0;
        bool has_a_id = false, has_t_id = false, has_u = false, has_stream = false,
             has_data = false;
        bool control = false;
    };

    parse_result binance_fields(od::object obj, binance_state& st, int depth) {
        // e X s p q a b t u T, stream data, result id method error params code
        static constexpr key_initials k_read{"eXspqabtuTdrimc"};
        for (auto fr : obj) {
            if (fr.error() != simdjson::SUCCESS) return malformed("not valid JSON");
            od::field& f = fr.value_unsafe();
            const od::raw_json_string k = f.key();
            if (!k_read.may_match(k)) continue;
            od::value& v = f.value();
            if (k.unsafe_is_equal("e")) {
                if (v.get_string().get(st.e) != simdjson::SUCCESS)
                    return bad("e: expected a string");
            } else if (k.unsafe_is_equal("X")) {
                if (v.get_string().get(st.x) != simdjson::SUCCESS) st.x = {}; // not a trade's
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
            // USD-M futures mark each trade's origin: insurance-fund liquidations and
            // auto-deleveraging are prints off the order book, not market trades.
            if (!st.x.empty() && st.x != "MARKET") {
                return parse_result::off_book("off-book print (X is INSURANCE_FUND, ADL or NA)");
            }
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
};

std::vector<std::string> subscribe(const subscription& s) {
    std::vector<std::string> channels = s.channels;
    if (channels.empty()) channels = {"aggTrade"};
    std::vector<std::string> params;
    for (const auto& sym : s.symbols) {
        for (const auto& c : channels)
            params.push_back(lower(sym) + "@" + c);
    }
    return {R"({"method":"SUBSCRIBE","params":)" + json_list(params) + R"(,"id":1})"};
}

} // namespace

parse_result parse_binance(venue_context& c, od::document& doc, std::string_view /*raw*/) {
    binance_parser p{c};
    const parse_result r = p.binance(doc);
    c = p; // the per-call state it changed (connection_seq)
    return r;
}

const venue_info k_binance_info{venue::binance,
                                "binance",
                                "Binance spot, Binance.US and USD-M futures: trade, aggTrade, "
                                "bookTicker (raw or combined stream)",
                                keepalive_kind::ws_ping,
                                {},
                                25 * core::k_ns_per_s,
                                (23 * 60 + 50) * core::k_ns_per_min,
                                &subscribe};

} // namespace seismo::feeds::detail
