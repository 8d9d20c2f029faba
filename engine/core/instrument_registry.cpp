#include "engine/core/instrument_registry.hpp"

#include <stdexcept>

namespace seismo::core {

instrument_registry::instrument_registry(std::size_t capacity) : capacity_(capacity) {
    venue("generic");
}

std::optional<instrument_id> instrument_registry::add(instrument_info info) {
    std::lock_guard lock(mu_);
    if (by_symbol_.find(info.symbol) != nullptr) return std::nullopt;
    if (infos_.size() >= capacity_) throw std::length_error("instrument registry is full");
    const auto id = static_cast<std::uint32_t>(infos_.size());
    by_symbol_.insert(info.symbol, id);
    infos_.push_back(std::move(info));
    count_.store(infos_.size(), std::memory_order_release);
    return instrument_id{id};
}

bool instrument_registry::add_alias(venue_id venue, std::string_view native, instrument_id id) {
    std::lock_guard lock(mu_);
    if (aliases_.size() <= index(venue)) aliases_.resize(index(venue) + 1u);
    return aliases_[index(venue)].insert(native, index(id));
}

void instrument_registry::add_template(instrument_template t) {
    std::lock_guard lock(mu_);
    templates_.push_back(std::move(t));
}

std::optional<venue_id> instrument_registry::try_venue(std::string_view name) {
    std::lock_guard lock(mu_);
    if (const auto* v = venue_ids_.find(name)) return venue_id{*v};
    if (venues_.size() >= k_max_venues) return std::nullopt;
    const auto id = static_cast<std::uint16_t>(venues_.size());
    venues_.emplace_back(name);
    venue_ids_.insert(name, id);
    return venue_id{id};
}

venue_id instrument_registry::venue(std::string_view name) {
    if (auto v = try_venue(name)) return *v;
    throw std::length_error("more than " + std::to_string(k_max_venues) + " venue names");
}

std::string_view instrument_registry::venue_name(venue_id v) const {
    std::lock_guard lock(mu_);
    return index(v) < venues_.size() ? std::string_view{venues_[index(v)]} : "?";
}

instrument_id instrument_registry::find(std::string_view symbol) const {
    std::lock_guard lock(mu_);
    const auto* v = by_symbol_.find(symbol);
    return v != nullptr ? instrument_id{*v} : k_no_instrument;
}

instrument_id instrument_registry::resolve(venue_id venue, std::string_view native) {
    std::lock_guard lock(mu_);
    if (index(venue) < aliases_.size()) {
        if (const auto* v = aliases_[index(venue)].find(native)) return instrument_id{*v};
    }
    return intern_locked(native);
}

instrument_id instrument_registry::intern_locked(std::string_view symbol) {
    if (const auto* v = by_symbol_.find(symbol)) return instrument_id{*v};
    if (infos_.size() >= capacity_) return k_no_instrument;
    instrument_info info;
    info.symbol.assign(symbol);
    for (const auto& t : templates_) {
        bool hit = false;
        for (const auto& g : t.globs)
            hit = hit || glob_match(g, symbol);
        if (hit) {
            info.tags = t.tags;
            info.kind = t.kind;
            info.lateness = t.lateness;
            break;
        }
    }
    const auto id = static_cast<std::uint32_t>(infos_.size());
    by_symbol_.insert(symbol, id);
    infos_.push_back(std::move(info));
    count_.store(infos_.size(), std::memory_order_release);
    return instrument_id{id};
}

} // namespace seismo::core
