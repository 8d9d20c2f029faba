#include "engine/reload.hpp"

#include "engine/core/json_writer.hpp"
#include "signals/step.hpp"

#include <cmath>
#include <cstring>
#include <map>

namespace seismo::engine {
namespace {

bool same_double(double a, double b) noexcept {
    return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0;
}

bool same_instrument(const instrument_config& a, const instrument_config& b) {
    return a.info.symbol == b.info.symbol && a.info.tags == b.info.tags &&
           a.info.kind == b.info.kind && same_double(a.info.prev_close, b.info.prev_close) &&
           a.info.lateness == b.info.lateness && a.aliases == b.aliases;
}

bool same_templates(const std::vector<core::instrument_template>& a,
                    const std::vector<core::instrument_template>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].globs != b[i].globs || a[i].tags != b[i].tags || a[i].kind != b[i].kind ||
            a[i].lateness != b[i].lateness)
            return false;
    }
    return true;
}

void append_names(std::string& o, const std::vector<std::string>& names) {
    o += '[';
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i != 0) o += ',';
        core::append_json_string(o, names[i]);
    }
    o += ']';
}

} // namespace

std::vector<feed_slot>
initial_feed_slots(const config& cfg,
                   const std::vector<std::pair<std::string, std::string>>& extra) {
    std::vector<feed_slot> s;
    for (const auto& f : cfg.feeds)
        s.push_back({f.name, f.venue, f, true});
    for (const auto& [name, venue] : extra)
        s.push_back({name, venue, std::nullopt, true});
    return s;
}

feed_plan plan_feeds(const std::vector<feed_slot>& now, const config& next) {
    feed_plan p;
    p.slots = now;
    std::vector<bool> claimed(now.size(), false);
    for (const auto& f : next.feeds) {
        std::size_t found = now.size();
        for (std::size_t i = 0; i < now.size(); ++i) {
            if (now[i].active && now[i].cfg && now[i].name == f.name) found = i;
        }
        // Re-subscribing keeps the session: its venue, its URL's scheme (ws or wss) and its
        // trust anchors must stay; a change to any of them makes a new feed id.
        auto scheme = [](const std::string& url) { return url.substr(0, url.find(':')); };
        // A NATS feed is kept when unchanged; a changed one is a new consumer (a new id).
        if (found != now.size() && now[found].venue == f.venue &&
            scheme(now[found].cfg->url) == scheme(f.url) && now[found].cfg->ca_file == f.ca_file &&
            (f.venue != "nats" || now[found].cfg->same_as(f))) {
            claimed[found] = true;
            const bool same = now[found].cfg->same_as(f);
            p.slots[found].cfg = f;
            (same ? p.kept : p.resubscribed).push_back(static_cast<std::uint16_t>(found));
            continue;
        }
        if (p.slots.size() >= signals::k_max_feeds) {
            throw reload_error("[[feed]] '" + f.name + "' (line " + std::to_string(f.line) +
                               "): a run has at most " + std::to_string(signals::k_max_feeds) +
                               " feed ids, removed feeds included: restart to add more");
        }
        p.added.push_back(static_cast<std::uint16_t>(p.slots.size()));
        p.slots.push_back({f.name, f.venue, f, true});
    }
    for (std::size_t i = 0; i < now.size(); ++i) {
        if (!now[i].active || !now[i].cfg || claimed[i]) {
            if (now[i].active && !now[i].cfg) p.kept.push_back(static_cast<std::uint16_t>(i));
            continue;
        }
        p.slots[i].active = false;
        p.removed.push_back(static_cast<std::uint16_t>(i));
    }
    return p;
}

void check_reloadable(const config& now, const config& next, const core::instrument_registry& reg) {
    const std::string where = next.file + ": ";
    if (!(now.engine == next.engine))
        throw reload_error(where + "[engine] settings changed: they take effect on a restart");
    if (!(now.server == next.server))
        throw reload_error(where + "[server] settings changed: they take effect on a restart");
    if (!(now.nats == next.nats))
        throw reload_error(where + "[nats] settings changed: they take effect on a restart");
    if (!same_templates(now.templates, next.templates))
        throw reload_error(where + "[[template]]s changed: they take effect on a restart");
    std::map<std::string, const instrument_config*> next_by_symbol;
    for (const auto& ic : next.instruments)
        next_by_symbol.emplace(ic.info.symbol, &ic);
    for (const auto& ic : now.instruments) {
        const auto it = next_by_symbol.find(ic.info.symbol);
        if (it == next_by_symbol.end()) {
            throw reload_error(where + "[[instrument]] '" + ic.info.symbol +
                               "' was removed: declared instruments can be added by a reload, "
                               "removed only by a restart");
        }
        if (!same_instrument(ic, *it->second)) {
            throw reload_error(where + "line " + std::to_string(it->second->line) +
                               ": [[instrument]] '" + ic.info.symbol +
                               "' changed (tags, kind, prev_close, lateness or aliases): declared "
                               "instruments can be added by a reload, changed only by a restart");
        }
        next_by_symbol.erase(it);
    }
    for (const auto& [symbol, ic] : next_by_symbol) {
        if (reg.find(symbol) != core::k_no_instrument) {
            throw reload_error(where + "line " + std::to_string(ic->line) + ": [[instrument]] '" +
                               symbol +
                               "' is new in this config but a feed has delivered it already "
                               "(undeclared): declaring it takes a restart");
        }
    }
}

std::string reload_diff::json() const {
    std::string o = R"({"digest":")";
    o += digest_hex(to);
    o += R"(","previous":")";
    o += digest_hex(from);
    o += R"(","signals":{"kept":)";
    append_names(o, kept);
    o += R"(,"relevelled":)";
    append_names(o, relevelled);
    o += R"(,"restarted":)";
    append_names(o, restarted);
    o += R"(,"added":)";
    append_names(o, added);
    o += R"(,"removed":)";
    append_names(o, removed);
    o += R"(},"feeds":{"kept":)";
    append_names(o, feeds_kept);
    o += R"(,"added":)";
    append_names(o, feeds_added);
    o += R"(,"removed":)";
    append_names(o, feeds_removed);
    o += R"(,"resubscribed":)";
    append_names(o, feeds_resubscribed);
    o += R"(},"instruments_added":)";
    append_names(o, instruments_added);
    o += '}';
    return o;
}

std::string reload_diff::summary() const {
    auto n = [](const std::vector<std::string>& v) { return std::to_string(v.size()); };
    return "config " + digest_hex(to) + ": signals " + n(kept) + " kept, " + n(relevelled) +
           " relevelled, " + n(restarted) + " restarted, " + n(added) + " added, " + n(removed) +
           " removed; feeds " + n(feeds_added) + " added, " + n(feeds_removed) + " removed, " +
           n(feeds_resubscribed) + " re-subscribed; " + n(instruments_added) + " instruments added";
}

std::shared_ptr<generation> first_generation(const config& cfg,
                                             const std::vector<feed_slot>& slots) {
    std::vector<std::string> names;
    for (const auto& s : slots)
        names.push_back(s.name);
    return make_generation(cfg.digest, cfg.signals, std::move(names));
}

prepared_reload prepare_reload(const config& now, std::shared_ptr<const config> next,
                               const std::vector<feed_slot>& slots, core::instrument_registry& reg,
                               const generations& gens) {
    if (gens.size() >= generations::k_max) {
        throw reload_error("this run has reloaded " + std::to_string(generations::k_max - 1) +
                           " times, the most one run keeps: restart to reload again");
    }
    check_reloadable(now, *next, reg);
    prepared_reload r;
    r.feeds = plan_feeds(slots, *next);
    r.plan = signals::plan_reload(now.signals, next->signals);
    // Nothing above changed anything; from here on the reload happens.
    std::map<std::string, bool> known;
    for (const auto& ic : now.instruments)
        known.emplace(ic.info.symbol, true);
    for (const auto& ic : next->instruments) {
        if (known.contains(ic.info.symbol)) continue;
        const auto id = reg.add(ic.info);
        if (!id) throw reload_error("[[instrument]] '" + ic.info.symbol + "': already known");
        for (const auto& [venue, native] : ic.aliases)
            (void)reg.add_alias(reg.venue(venue), native, *id);
        r.diff.instruments_added.push_back(ic.info.symbol);
    }
    r.gen = first_generation(*next, r.feeds.slots);
    r.gen->number = static_cast<std::uint32_t>(gens.size());
    signals::graph_options go;
    go.lateness = next->engine.lateness;
    go.generation = r.gen->number;
    r.graph = std::make_unique<signals::graph>(next->signals, reg, go);
    r.configured = configured_instruments(*next, reg);
    r.diff.from = now.digest;
    r.diff.to = next->digest;
    for (std::size_t i = 0; i < next->signals.size(); ++i) {
        const std::string& name = next->signals[i].name;
        switch (r.plan.how[i]) {
        case signals::carry::kept:
            r.diff.kept.push_back(name);
            break;
        case signals::carry::relevelled:
            r.diff.relevelled.push_back(name);
            break;
        case signals::carry::restarted:
            r.diff.restarted.push_back(name);
            break;
        case signals::carry::added:
            r.diff.added.push_back(name);
            break;
        }
    }
    for (const auto o : r.plan.removed)
        r.diff.removed.push_back(now.signals[o].name);
    for (const auto f : r.feeds.kept)
        r.diff.feeds_kept.push_back(r.feeds.slots[f].name);
    for (const auto f : r.feeds.added)
        r.diff.feeds_added.push_back(r.feeds.slots[f].name);
    for (const auto f : r.feeds.removed)
        r.diff.feeds_removed.push_back(r.feeds.slots[f].name);
    for (const auto f : r.feeds.resubscribed)
        r.diff.feeds_resubscribed.push_back(r.feeds.slots[f].name);
    r.cfg = std::move(next);
    return r;
}

} // namespace seismo::engine
