#pragma once
// Config generations (hot reload, DESIGN §9). Every reload that takes effect starts a new
// generation: its number, its config digest, its signals' specs and the feed names by feed id.
// Each trigger carries the number of the generation whose signal produced it (trigger::gen), so
// whoever serialises it later — the I/O thread, the writer thread, a replay — names it by the
// specs that produced it, even after a newer config has moved the signal to another index or
// removed it. Generations are never freed during a run: a reload a minute for a day is 1,440 of
// them, a few kilobytes each; past k_max a reload is refused (restart to reload again).
//
// Threads: add() from one thread at a time (the reload's); at() from any thread, lock-free,
// for a number it got from a trigger (the queue that carried the trigger orders the read
// after the add).

#include "signals/spec.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace seismo::engine {

struct generation {
    std::uint32_t number = 0;
    std::uint64_t digest = 0; ///< config::digest
    std::string digest_hex;   ///< 16 hex digits: the triggers' "config" field
    std::vector<signals::signal_spec> specs;
    std::vector<std::string> feed_names; ///< by feed id, removed feeds included
};

[[nodiscard]] inline std::string digest_hex(std::uint64_t d) {
    char b[17];
    std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(d));
    return b;
}

/// A generation of a config with this digest, these signals and these feed names (its number is
/// set when it is added).
[[nodiscard]] inline std::shared_ptr<generation>
make_generation(std::uint64_t digest, std::vector<signals::signal_spec> specs,
                std::vector<std::string> feed_names) {
    auto g = std::make_shared<generation>();
    g->digest = digest;
    g->digest_hex = digest_hex(digest);
    g->specs = std::move(specs);
    g->feed_names = std::move(feed_names);
    return g;
}

class generations {
  public:
    static constexpr std::size_t k_max = 4096;

    generations() = default;
    explicit generations(std::shared_ptr<generation> first) { (void)add(std::move(first)); }
    generations(const generations&) = delete;
    generations& operator=(const generations&) = delete;

    /// Appends `g` as the next generation (its number is set here); false when k_max are held.
    bool add(std::shared_ptr<generation> g) {
        std::lock_guard lock(mu_);
        if (owned_.size() >= k_max) return false;
        g->number = static_cast<std::uint32_t>(owned_.size());
        owned_.push_back(g);
        table_[g->number].store(g.get(), std::memory_order_release);
        count_.store(owned_.size(), std::memory_order_release);
        return true;
    }
    /// Generation `n` (added before); the latest when `n` is unknown.
    [[nodiscard]] const generation& at(std::uint32_t n) const noexcept {
        if (n < k_max) {
            if (const generation* g = table_[n].load(std::memory_order_acquire)) return *g;
        }
        return latest();
    }
    [[nodiscard]] const generation& latest() const noexcept {
        const std::size_t c = count_.load(std::memory_order_acquire);
        return *table_[c == 0 ? 0 : c - 1].load(std::memory_order_acquire);
    }
    [[nodiscard]] std::size_t size() const noexcept {
        return count_.load(std::memory_order_acquire);
    }

  private:
    mutable std::mutex mu_;
    std::vector<std::shared_ptr<const generation>> owned_;
    std::array<std::atomic<const generation*>, k_max> table_{};
    std::atomic<std::size_t> count_{0};
};

} // namespace seismo::engine
