// OKX v5 public channels (DESIGN §4): `trades`, `trades-all` and `tickers`; one `subscribe` op
// with an arg per symbol and channel (default `trades`); a text `ping` every 20 s (OKX closes a
// connection silent for 30 s), answered with a text `pong`. Gaps: `tradeId` per instrument on
// `trades-all` (not on the aggregated `trades`).
#include "feeds/venues/adapter.hpp"

namespace seismo::feeds::detail {
namespace {

struct okx_parser : venue_context {
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
            // instId px sz bidPx askPx last tradeId ts
            static constexpr key_initials k_read{"ipsbalt"};
            for (auto fr : o) {
                if (fr.error() != simdjson::SUCCESS) return malformed("not valid JSON");
                od::field& f = fr.value_unsafe();
                const od::raw_json_string k = f.key();
                if (!k_read.may_match(k)) continue;
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
};

std::vector<std::string> subscribe(const subscription& s) {
    std::vector<std::string> channels = s.channels;
    if (channels.empty()) channels = {"trades"};
    std::string args = "[";
    bool first = true;
    for (const auto& sym : s.symbols) {
        for (const auto& c : channels) {
            if (!first) args += ',';
            first = false;
            args += R"({"channel":")" + c + R"(","instId":")" + sym + R"("})";
        }
    }
    return {R"({"op":"subscribe","args":)" + args + "]}"};
}

} // namespace

parse_result parse_okx(venue_context& c, od::document& doc, std::string_view raw) {
    okx_parser p{c};
    const parse_result r = p.okx(doc, raw);
    c = p; // the per-call state it changed (connection_seq)
    return r;
}

const venue_info k_okx_info{venue::okx,
                            "okx",
                            "OKX v5: trades, trades-all, tickers",
                            keepalive_kind::text,
                            "ping",
                            20 * core::k_ns_per_s,
                            0,
                            &subscribe};

} // namespace seismo::feeds::detail
