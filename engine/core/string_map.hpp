#pragma once
// A small open-addressing hash map from strings to trivially copyable values, looked up by
// std::string_view without allocating. Inserts allocate (they happen at start-up or at the first
// sight of a symbol); lookups never do. Not thread-safe: one owner.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace seismo::core {

/// 64-bit hash of a short string: eight bytes at a time, multiply-xorshift mixing.
[[nodiscard]] inline std::uint64_t hash_bytes(std::string_view s) noexcept {
    constexpr std::uint64_t k_mul = 0x9e3779b97f4a7c15ULL;
    std::uint64_t h = 0xcbf29ce484222325ULL ^ (s.size() * k_mul);
    const char* p = s.data();
    std::size_t n = s.size();
    while (n >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        h = (h ^ w) * k_mul;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    if (n > 0) {
        std::uint64_t w = 0;
        std::memcpy(&w, p, n);
        h = (h ^ w) * k_mul;
        h ^= h >> 29;
    }
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h;
}

template <class V>
class string_map {
    static_assert(std::is_trivially_copyable_v<V>);

public:
    string_map() { slots_.resize(16); }

    /// Returns a pointer to the value for `key`, or nullptr.
    [[nodiscard]] const V* find(std::string_view key) const noexcept {
        const std::uint64_t h = hash_bytes(key);
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t i = h & mask;; i = (i + 1) & mask) {
            const slot& s = slots_[i];
            if (!s.used) return nullptr;
            if (s.hash == h && s.key == key) return &s.value;
        }
    }

    /// Inserts `key` unless present. Returns false (and leaves the map as is) when it was.
    bool insert(std::string_view key, V value) {
        if ((size_ + 1) * 2 > slots_.size()) grow();
        return insert_hashed(hash_bytes(key), key, value);
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }

    template <class F>
    void for_each(F&& f) const {
        for (const auto& s : slots_) {
            if (s.used) f(std::string_view{s.key}, s.value);
        }
    }

private:
    struct slot {
        std::uint64_t hash = 0;
        std::string key;
        V value{};
        bool used = false;
    };

    bool insert_hashed(std::uint64_t h, std::string_view key, V value) {
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t i = h & mask;; i = (i + 1) & mask) {
            slot& s = slots_[i];
            if (!s.used) {
                s.hash = h;
                s.key.assign(key);
                s.value = value;
                s.used = true;
                ++size_;
                return true;
            }
            if (s.hash == h && s.key == key) return false;
        }
    }

    void grow() {
        std::vector<slot> old = std::move(slots_);
        slots_.clear();
        slots_.resize(old.size() * 2);
        size_ = 0;
        for (auto& s : old) {
            if (s.used) insert_hashed(s.hash, s.key, s.value);
        }
    }

    std::vector<slot> slots_;
    std::size_t size_ = 0;
};

/// Shell-style glob: `*` any run, `?` one character, everything else literal.
[[nodiscard]] bool glob_match(std::string_view pattern, std::string_view text) noexcept;

} // namespace seismo::core
