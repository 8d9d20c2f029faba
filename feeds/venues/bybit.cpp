// Bybit v5 public channels (DESIGN §4): `publicTrade.*` and `tickers.*` (snapshots and deltas);
// one `subscribe` op with `<channel>.<symbol>` args (default `publicTrade`); `{"op":"ping"}`
// every 20 s, as Bybit asks.
#include "feeds/venues/adapter.hpp"

namespace seismo::feeds::detail {
namespace {

struct bybit_parser : venue_context {
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
};

std::vector<std::string> subscribe(const subscription& s) {
    std::vector<std::string> channels = s.channels;
    if (channels.empty()) channels = {"publicTrade"};
    std::vector<std::string> args;
    for (const auto& sym : s.symbols) {
        for (const auto& c : channels)
            args.push_back(c + "." + sym);
    }
    return {R"({"op":"subscribe","args":)" + json_list(args) + "}"};
}

} // namespace

parse_result parse_bybit(venue_context& c, od::document& doc, std::string_view /*raw*/) {
    bybit_parser p{c};
    const parse_result r = p.bybit(doc);
    c = p; // the per-call state it changed (connection_seq)
    return r;
}

const venue_info k_bybit_info{venue::bybit,
                              "bybit",
                              "Bybit v5: publicTrade, tickers",
                              keepalive_kind::text,
                              R"({"op":"ping"})",
                              20 * core::k_ns_per_s,
                              0,
                              &subscribe};

} // namespace seismo::feeds::detail
