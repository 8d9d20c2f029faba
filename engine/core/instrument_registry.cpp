#include "engine/core/instrument_registry.hpp"

#include <stdexcept>

namespace seismo::core {

instrument_registry::instrument_registry(std::size_t capacity)
    : capacity_(capacity), blocks_(std::make_unique<std::atomic<instrument_info*>[]>(
                               (capacity + k_block - 1) / k_block)) {
    venues_.reserve(k_max_venues);
    venue("generic");
}

instrument_id instrument_registry::append_locked(instrument_info info) {
    const std::size_t i = size_;
    instrument_info* block = blocks_[i / k_block].load(std::memory_order_relaxed);
    if (block == nullptr) {
        owned_.push_back(std::make_unique<instrument_info[]>(k_block));
        block = owned_.back().get();
        blocks_[i / k_block].store(block, std::memory_order_release);
    }
    block[i % k_block] = std::move(info);
    size_ = i + 1;
    count_.store(size_, std::memory_order_release);
    return instrument_id{static_cast<std::uint32_t>(i)};
}

std::optional<instrument_id> instrument_registry::add(instrument_info info) {
    std::lock_guard lock(mu_);
    if (by_symbol_.find(info.symbol) != nullptr) return std::nullopt;
    if (size_ >= capacity_) throw std::length_error("instrument registry is full");
    by_symbol_.insert(info.symbol, static_cast<std::uint32_t>(size_));
    return append_locked(std::move(info));
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
    venues_.emplace_back(name); // within the reserve: no name moves
    venue_count_.store(venues_.size(), std::memory_order_release);
    venue_ids_.insert(name, id);
    return venue_id{id};
}

venue_id instrument_registry::venue(std::string_view name) {
    if (auto v = try_venue(name)) return *v;
    throw std::length_error("more than " + std::to_string(k_max_venues) + " venue names");
}

std::string_view instrument_registry::venue_name(venue_id v) const noexcept {
    return index(v) < venue_count_.load(std::memory_order_acquire)
               ? std::string_view{venues_.data()[index(v)]}
               : std::string_view{"?"};
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
    if (size_ >= capacity_) return k_no_instrument;
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
    by_symbol_.insert(symbol, static_cast<std::uint32_t>(size_));
    return append_locked(std::move(info));
}

} // namespace seismo::core
