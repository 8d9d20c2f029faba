#pragma once
// The instrument registry: symbols, venue aliases, tags, value kind and previous close.
//
// Threads: configured at start-up on one thread. Afterwards `resolve` may be called from any
// thread (it takes a mutex, so feed threads call it only on a miss of their own `symbol_cache`),
// and `info(id)` and `venue_name(v)` may be read from any thread, without a lock, for an id it
// has received: entries live in blocks that never move, a block is published before any of
// its ids is handed out, and an entry is complete before its id is.

#include "engine/core/string_map.hpp"
#include "engine/core/tick.hpp"

#include <atomic>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace seismo::core {

/// How an instrument's values are validated: `price` must be finite and > 0; `level` any finite
/// number (gauges, spreads, indices that go negative).
enum class value_kind : std::uint8_t { price, level };

struct instrument_info {
    std::string symbol;
    std::vector<std::string> tags;
    value_kind kind = value_kind::price;
    double prev_close = std::numeric_limits<double>::quiet_NaN(); ///< NaN when unknown
    std::optional<nanos> lateness; ///< overrides [engine].lateness when set
    bool declared = false;         ///< from the config (vs. first seen in a feed)

    [[nodiscard]] bool has_tag(std::string_view t) const noexcept {
        for (const auto& x : tags) {
            if (x == t) return true;
        }
        return false;
    }
};

/// Defaults for symbols first seen in a feed that match one of `globs` (e.g. every `*.SH`
/// A-share gets tag `a_share`).
struct instrument_template {
    std::vector<std::string> globs;
    std::vector<std::string> tags;
    value_kind kind = value_kind::price;
    std::optional<nanos> lateness;
};

class instrument_registry {
  public:
    static constexpr std::size_t k_default_capacity = 1u << 20;

    explicit instrument_registry(std::size_t capacity = k_default_capacity);

    // ---- start-up (one thread) ----
    /// Adds a declared instrument; returns std::nullopt when the symbol exists already.
    std::optional<instrument_id> add(instrument_info info);
    /// Maps `venue:native` to `id`; false when that alias exists already.
    bool add_alias(venue_id venue, std::string_view native, instrument_id id);
    void add_template(instrument_template t);
    /// Interns a venue name ("binance", "generic", ...); std::nullopt when k_max_venues are
    /// known already (a feed naming ever more venues is refused frame by frame, not killed).
    std::optional<venue_id> try_venue(std::string_view name);
    /// try_venue for start-up, where running out is a configuration error: throws
    /// std::length_error.
    venue_id venue(std::string_view name);
    static constexpr std::size_t k_max_venues = 0xffff;
    /// A venue id's name ("?" for an id never handed out). No lock.
    [[nodiscard]] std::string_view venue_name(venue_id v) const noexcept;

    // ---- any thread ----
    /// The instrument for a venue's native symbol: its alias when one is configured, else the
    /// symbol itself; interned at first sight (with the first matching template's defaults).
    /// Returns k_no_instrument when the registry is full.
    instrument_id resolve(venue_id venue, std::string_view native);
    /// Looks a symbol up without interning (k_no_instrument when unknown).
    [[nodiscard]] instrument_id find(std::string_view symbol) const;

    /// The entry for an id handed out before (entries never move). No lock: fit for per-tick
    /// use (a tick's JSON, a NATS subject).
    [[nodiscard]] const instrument_info& info(instrument_id id) const noexcept {
        const std::size_t i = index(id);
        return blocks_[i / k_block].load(std::memory_order_acquire)[i % k_block];
    }
    [[nodiscard]] std::size_t size() const noexcept {
        return count_.load(std::memory_order_acquire);
    }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

  private:
    instrument_id intern_locked(std::string_view symbol);

    instrument_id append_locked(instrument_info info);

    static constexpr std::size_t k_block = 1024; // entries per block
    mutable std::mutex mu_;
    std::size_t capacity_;
    // Entry i is blocks_[i / k_block][i % k_block]; a block is allocated (under mu_) when its
    // first entry is added and its pointer published before that entry's id is handed out.
    std::unique_ptr<std::atomic<instrument_info*>[]> blocks_;
    std::vector<std::unique_ptr<instrument_info[]>> owned_; // the blocks, under mu_
    std::size_t size_ = 0;                                  // under mu_
    std::atomic<std::size_t> count_{0};
    string_map<std::uint32_t> by_symbol_;
    std::vector<string_map<std::uint32_t>> aliases_; // per venue id
    // Reserved for every venue at once, so that a name never moves and a reader needs only the
    // count (published after the name) and data().
    std::vector<std::string> venues_;
    std::atomic<std::size_t> venue_count_{0};
    string_map<std::uint16_t> venue_ids_; ///< name -> index in venues_
    std::vector<instrument_template> templates_;
};

/// A feed thread's private symbol -> instrument cache in front of the registry: lock-free and
/// allocation-free on a hit, which is every tick after a symbol's first. It also carries the
/// instrument's value kind, which parsers need to validate prices.
class symbol_cache {
  public:
    struct entry {
        instrument_id id = k_no_instrument;
        value_kind kind = value_kind::price;
    };

    symbol_cache(instrument_registry& reg, venue_id venue) : reg_(&reg), venue_(venue) {}

    /// The instrument for a native symbol; `id == k_no_instrument` when the registry is full.
    [[nodiscard]] entry resolve(std::string_view native) {
        return resolve(native, hash_bytes(native));
    }
    /// Starts loading `native`'s entry and returns its hash for resolve(native, hash): a parser
    /// calls it when it reads the symbol, so the lookup at the end of the frame hits the cache.
    [[nodiscard]] std::uint64_t prefetch(std::string_view native) const noexcept {
        return map_.prefetch(native);
    }
    [[nodiscard]] entry resolve(std::string_view native, std::uint64_t hash) {
        if (const auto* v = map_.find(native, hash)) return *v;
        entry e;
        e.id = reg_->resolve(venue_, native);
        if (e.id == k_no_instrument) return e;
        e.kind = reg_->info(e.id).kind;
        map_.insert(native, e);
        return e;
    }
    /// The instrument `native` resolved to before (k_no_instrument if it has not been seen).
    [[nodiscard]] instrument_id find(std::string_view native, std::uint64_t hash) const noexcept {
        const auto* v = map_.find(native, hash);
        return v != nullptr ? v->id : k_no_instrument;
    }
    [[nodiscard]] venue_id venue() const noexcept { return venue_; }
    [[nodiscard]] instrument_registry& registry() const noexcept { return *reg_; }

  private:
    instrument_registry* reg_;
    venue_id venue_;
    string_map<entry> map_;
};

} // namespace seismo::core
