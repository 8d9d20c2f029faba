#include "engine/trigger_json.hpp"

#include "engine/core/json_writer.hpp"

namespace seismo::engine {

namespace {

std::string_view feed_name(const signals::trigger& t, const std::vector<std::string>* names) {
    return names != nullptr && t.feed < names->size() ? std::string_view((*names)[t.feed]) : "?";
}

/// Closes the quoted field before it, then the instrument (if any) and the value: the part
/// every trigger shares after its kind-specific head.
void append_instrument_value(std::string& out, const signals::trigger& t,
                             const core::instrument_registry& reg) {
    out += '"';
    if (t.inst != core::k_no_instrument) {
        out += R"(,"instrument":)";
        core::append_json_string(out, reg.info(t.inst).symbol);
    }
    out += R"(,"value":)";
    core::append_double(out, t.value);
}

void append_tail(std::string& out, const signals::trigger& t, bool deterministic,
                 core::nanos latency_ns, std::string_view config_digest) {
    if (t.reason != signals::end_reason::none) {
        out += R"(,"reason":")";
        out += signals::to_string(t.reason);
        out += '"';
    }
    out += R"(,"event_ts":)";
    core::append_json_time(out, t.event_ts);
    out += R"(,"cause":[)";
    for (std::uint8_t i = 0; i < t.n_cause; ++i) {
        if (i != 0) out += ',';
        core::append_uint(out, t.cause[i]);
    }
    out += ']';
    if (t.degraded) out += R"(,"degraded":true)";
    if (!config_digest.empty()) {
        out += R"(,"config":")";
        out += config_digest;
        out += '"';
    }
    if (!deterministic) {
        out += R"(,"recv_ts":)";
        core::append_json_time(out, t.recv_ts);
        if (latency_ns >= 0) {
            out += R"(,"latency_ns":)";
            core::append_int(out, latency_ns);
        }
    }
    out += '}';
}

} // namespace

void append_trigger_json(std::string& out, const signals::trigger& t,
                         const std::vector<signals::signal_spec>& specs,
                         const core::instrument_registry& reg, bool deterministic,
                         core::nanos latency_ns, const std::vector<std::string>* feed_names,
                         std::string_view config_digest) {
    if (t.signal == signals::k_feed_health) {
        out += R"({"type":"trigger","seq":)";
        core::append_uint(out, t.seq);
        out += R"(,"signal":"feed_health","kind":"feed_health","state":")";
        out += signals::to_string(t.state);
        out += R"(","severity":")";
        out += signals::to_string(t.sev);
        out += R"(","feed":)";
        core::append_json_string(out, feed_name(t, feed_names));
        out += R"(,"condition":")";
        out += signals::to_string(t.condition);
        append_instrument_value(out, t, reg);
        if (t.down != core::down_cause::none) {
            out += R"(,"reason":")";
            out += core::to_string(t.down);
            out += '"';
        }
        append_tail(out, t, deterministic, latency_ns, config_digest);
        return;
    }
    const signals::signal_spec& s = specs[t.signal];
    out += R"({"type":"trigger","seq":)";
    core::append_uint(out, t.seq);
    out += R"(,"signal":)";
    core::append_json_string(out, s.name);
    out += R"(,"kind":")";
    out += signals::to_string(s.kind);
    out += R"(","state":")";
    out += signals::to_string(t.state);
    out += R"(","severity":")";
    out += signals::to_string(t.sev);
    append_instrument_value(out, t, reg);
    out += R"(,"threshold":)";
    core::append_double(out, t.threshold);
    if (t.inst != core::k_no_instrument) {
        out += R"(,"px":)";
        core::append_double(out, t.px);
        if (!std::isnan(t.ref)) {
            out += R"(,"ref":)";
            core::append_double(out, t.ref);
        }
    }
    if (s.kind == signals::signal_kind::breadth) {
        out += R"(,"count":)";
        core::append_uint(out, t.count);
        out += R"(,"members":)";
        core::append_uint(out, t.members);
    }
    append_tail(out, t, deterministic, latency_ns, config_digest);
}

std::string trigger_topic(const signals::trigger& t, const std::vector<signals::signal_spec>& specs,
                          const core::instrument_registry& reg,
                          const std::vector<std::string>* feed_names) {
    if (t.signal == signals::k_feed_health)
        return "feed_health/" + std::string(feed_name(t, feed_names));
    std::string topic = specs[t.signal].name;
    if (t.inst != core::k_no_instrument) {
        topic += '/';
        topic += reg.info(t.inst).symbol;
    }
    return topic;
}

void append_tick_json(std::string& out, const core::tick& t, const core::instrument_registry& reg) {
    out += R"({"sym":)";
    core::append_json_string(out, reg.info(t.inst).symbol);
    out += t.kind == core::tick_kind::reference ? R"(,"prev_close":)" : R"(,"px":)";
    core::append_double(out, t.px);
    out += R"(,"ts":)";
    core::append_int(out, t.event_ts());
    if (t.kind != core::tick_kind::reference) {
        out += R"(,"sz":)";
        core::append_double(out, t.sz);
        if (t.seq != 0) {
            out += R"(,"seq":)";
            core::append_uint(out, t.seq);
            // The venue's number space and whether it runs contiguously, so that the line
            // replays as the frame did (a venue numbers trades and quotes apart).
            if (const auto space = t.flags & core::k_seq_space_mask; space != 0) {
                out += R"(,"seq_space":)";
                core::append_uint(out, space);
            }
            if ((t.flags & core::k_seq_contiguous) == 0) out += R"(,"seq_contiguous":false)";
        }
        out += R"(,"kind":")";
        out += core::to_string(t.kind);
        out += '"';
    }
    out += R"(,"venue":)";
    core::append_json_string(out, reg.venue_name(t.venue));
    out += '}';
}

} // namespace seismo::engine
