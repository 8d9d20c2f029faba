#include "engine/publish/client_op.hpp"

#include <simdjson.h>

namespace seismo::publish {
namespace {

namespace od = simdjson::ondemand;

bool fail(client_error& err, std::string_view code, std::string message) {
    err.code.assign(code);
    err.message = std::move(message);
    return false;
}

} // namespace

bool valid_pattern(std::string_view p) noexcept {
    if (p.empty() || p.size() > k_max_pattern) return false;
    for (const char c : p) {
        if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\') return false;
    }
    return true;
}

struct client_op_parser::impl {
    od::parser parser;
};

client_op_parser::client_op_parser() : p_(std::make_unique<impl>()) {}
client_op_parser::~client_op_parser() = default;

bool client_op_parser::parse(std::string_view text, client_op& op, client_error& err) {
    op = client_op{};
    const simdjson::padded_string padded(text);
    od::document doc;
    od::object obj;
    if (p_->parser.iterate(padded).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(obj) != simdjson::SUCCESS) {
        return fail(err, "bad_json",
                    "expected a JSON object such as {\"op\":\"subscribe\",\"topics\":[\"*\"]}");
    }
    std::string name;
    bool has_topics = false;
    for (auto fr : obj) {
        if (fr.error() != simdjson::SUCCESS) return fail(err, "bad_json", "not valid JSON");
        od::field& f = fr.value_unsafe();
        std::string_view key;
        if (f.unescaped_key().get(key) != simdjson::SUCCESS) {
            return fail(err, "bad_json", "not valid JSON");
        }
        if (key == "op") {
            std::string_view v;
            if (f.value().get_string().get(v) != simdjson::SUCCESS) {
                return fail(err, "bad_request", "'op' must be a string");
            }
            name.assign(v);
        } else if (key == "topics") {
            od::array arr;
            if (f.value().get_array().get(arr) != simdjson::SUCCESS) {
                return fail(err, "bad_topic", "'topics' must be an array of topic patterns");
            }
            has_topics = true;
            for (auto el : arr) {
                std::string_view t;
                if (el.get_string().get(t) != simdjson::SUCCESS) {
                    return fail(err, "bad_topic", "'topics' must hold strings");
                }
                op.topics.emplace_back(t);
            }
        } else if (key == "since") {
            std::uint64_t s = 0;
            if (f.value().get_uint64().get(s) != simdjson::SUCCESS) {
                return fail(err, "bad_request",
                            "'since' must be a non-negative integer (a trigger seq)");
            }
            op.since = s;
        } else if (key == "min_severity") {
            std::string_view v;
            if (f.value().get_string().get(v) != simdjson::SUCCESS ||
                (v != "info" && v != "warning" && v != "critical")) {
                return fail(err, "bad_request",
                            "'min_severity' must be \"info\", \"warning\" or \"critical\"");
            }
            op.min_severity = v == "info" ? 0 : v == "warning" ? 1 : 2;
        } else {
            return fail(err, "unknown_field",
                        "unknown field '" + std::string(key.substr(0, 64)) +
                            "' (op, topics, since, min_severity)");
        }
    }
    if (name == "ping") {
        op.kind = client_op_kind::ping;
        return true;
    }
    if (name == "subscribe" || name == "unsubscribe") {
        op.kind = name == "subscribe" ? client_op_kind::subscribe : client_op_kind::unsubscribe;
        if (!has_topics || op.topics.empty()) {
            return fail(err, "bad_topic", "'topics' needs at least one pattern");
        }
        for (const auto& t : op.topics) {
            if (!valid_pattern(t)) {
                return fail(err, "bad_topic", "bad topic pattern '" + t.substr(0, 64) + "'");
            }
        }
        return true;
    }
    if (name.empty())
        return fail(err, "bad_request", "missing 'op' (subscribe, unsubscribe or ping)");
    return fail(err, "unknown_op",
                "unknown op '" + name.substr(0, 64) + "' (subscribe, unsubscribe or ping)");
}

} // namespace seismo::publish
