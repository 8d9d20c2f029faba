// Coinbase Exchange (`match`, `last_match`, `ticker`) and Advanced Trade (`market_trades`),
// told apart per frame (DESIGN §4). Subscribes to `matches` + `heartbeat` on the Exchange, or
// `market_trades` + `heartbeats` on Advanced Trade (a URL containing `advanced-trade`);
// WebSocket pings. Gaps: the Exchange's match `trade_id` per product (its `sequence` is shared
// with channels not subscribed and skips by design), Advanced Trade's `sequence_num` per
// connection.
#include "feeds/venues/adapter.hpp"

namespace seismo::feeds::detail {
namespace {

struct coinbase_parser : venue_context {
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
            // Dispatch on the key's first byte: most of a ticker's fields (open_24h,
            // volume_30d, side, ...) are not read, and each is rejected in a branch or two
            // instead of by every name below in turn.
            switch (k.raw()[0]) {
            case 't':
                if (k.unsafe_is_equal("type")) {
                    if (v.get_string().get(type) != simdjson::SUCCESS)
                        return bad("type: expected a string");
                } else if (k.unsafe_is_equal("time")) {
                    if (!read_rfc3339(v, ts))
                        return parse_result::reject(reject_reason::bad_timestamp,
                                                    "time: expected RFC 3339");
                } else if (k.unsafe_is_equal("trade_id")) {
                    if (!detail::read_uint(v, trade_id))
                        return bad("trade_id: expected an integer");
                    has_trade_id = true;
                }
                continue;
            case 'c':
                if (k.unsafe_is_equal("channel") &&
                    v.get_string().get(channel) != simdjson::SUCCESS)
                    return bad("channel: expected a string");
                continue;
            case 'p':
                if (k.unsafe_is_equal("product_id")) {
                    if (v.get_string().get(product) != simdjson::SUCCESS)
                        return bad("product_id: expected a string");
                } else if (k.unsafe_is_equal("price")) {
                    SEISMO_TRY(
                        read_opt(v, price, "price: expected a decimal", "price: not finite"));
                }
                continue;
            case 's':
                if (k.unsafe_is_equal("size")) {
                    SEISMO_TRY(read_opt(v, size, "size: expected a decimal", "size: not finite"));
                } else if (k.unsafe_is_equal("sequence")) {
                    if (!detail::read_uint(v, sequence))
                        return bad("sequence: expected an integer");
                } else if (k.unsafe_is_equal("sequence_num")) {
                    std::uint64_t n = 0;
                    if (!detail::read_uint(v, n)) return bad("sequence_num: expected an integer");
                    connection_seq = n + 1; // 0 means "none"
                }
                continue;
            case 'l':
                if (k.unsafe_is_equal("last_size"))
                    SEISMO_TRY(read_opt(v, size, "size: expected a decimal", "size: not finite"));
                continue;
            case 'b':
                if (k.unsafe_is_equal("best_bid")) {
                    SEISMO_TRY(
                        read_opt(v, bid, "best_bid: expected a decimal", "best_bid: not finite"));
                } else if (k.unsafe_is_equal("best_ask")) {
                    SEISMO_TRY(
                        read_opt(v, ask, "best_ask: expected a decimal", "best_ask: not finite"));
                }
                continue;
            case 'e':
                break; // events, below
            default:
                continue;
            }
            if (k.unsafe_is_equal("events")) {
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
        out->resize(start); // `events` belong to Advanced Trade: an Exchange frame's are not read
        if (type == "match" || type == "last_match") {
            if (!price.present) return missing("price: missing");
            if (!has_trade_id) return missing("trade_id: missing");
            // last_match (the latest trade, sent on every subscribe) repeats a trade already
            // applied after a re-subscribe: routine, so marked repeatable.
            const auto flags =
                static_cast<std::uint8_t>(k_space_trade | core::k_seq_contiguous |
                                          (type == "last_match" ? core::k_seq_repeatable : 0));
            return emit(product, core::tick_kind::trade, price.v, size.present ? size.v : 0, ts,
                        trade_id, flags);
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
};

std::vector<std::string> subscribe(const subscription& s) {
    std::vector<std::string> out;
    std::vector<std::string> channels = s.channels;
    if (s.url.find("advanced-trade") != std::string_view::npos) {
        if (channels.empty()) channels = {"market_trades"};
        channels.emplace_back("heartbeats");
        for (const auto& c : channels) {
            out.push_back(R"({"type":"subscribe","product_ids":)" + json_list(s.symbols) +
                          R"(,"channel":")" + c + R"("})");
        }
    } else {
        if (channels.empty()) channels = {"matches"};
        channels.emplace_back("heartbeat");
        out.push_back(R"({"type":"subscribe","product_ids":)" + json_list(s.symbols) +
                      R"(,"channels":)" + json_list(channels) + "}");
    }
    return out;
}

} // namespace

parse_result parse_coinbase(venue_context& c, od::document& doc, std::string_view /*raw*/) {
    coinbase_parser p{c};
    const parse_result r = p.coinbase(doc);
    c = p; // the per-call state it changed (connection_seq)
    return r;
}

const venue_info k_coinbase_info{
    venue::coinbase,
    "coinbase",
    "Coinbase Exchange: match, last_match, ticker; Advanced Trade: market_trades",
    keepalive_kind::ws_ping,
    {},
    25 * core::k_ns_per_s,
    0,
    &subscribe};

} // namespace seismo::feeds::detail
