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

/// 64-bit hash of a short string: eight bytes at a time, multiply-xorshift mixing. The last
/// 1–7 bytes are read with at most two (overlapping) loads rather than copied byte by byte:
/// a byte-wise copy into a word is a store-forwarding stall on every lookup. For a given
/// length the loads cover every byte, so distinct strings still give distinct words.
[[nodiscard]] inline std::uint64_t hash_bytes(std::string_view s) noexcept {
    constexpr std::uint64_t k_mul = 0x9e3779b97f4a7c15ULL;
    const std::size_t size = s.size();
    std::uint64_t h = 0xcbf29ce484222325ULL ^ (size * k_mul);
    const char* p = s.data();
    std::size_t n = size;
    auto mix = [&h](std::uint64_t w) {
        h = (h ^ w) * k_mul;
        h ^= h >> 29;
    };
    while (n >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        mix(w);
        p += 8;
        n -= 8;
    }
    if (n != 0) {
        std::uint64_t w;
        if (size >= 8) {
            std::memcpy(&w, s.data() + size - 8, 8); // the last eight bytes, overlapping
        } else if (n >= 4) {
            std::uint32_t lo, hi;
            std::memcpy(&lo, p, 4);
            std::memcpy(&hi, p + n - 4, 4);
            w = lo | (std::uint64_t{hi} << 32);
        } else {
            const auto b = [p](std::size_t i) {
                return static_cast<std::uint64_t>(static_cast<unsigned char>(p[i]));
            };
            w = b(0) | (b(n / 2) << 8) | (b(n - 1) << 16);
        }
        mix(w);
    }
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h;
}

/// Slots are 32 bytes and 32-byte aligned, two to a cache line and none across two: the hash,
/// the value and, for keys of up to `k_inline` bytes (every venue symbol seen so far), the key
/// itself, so a hit reads one line. A longer key is kept out of line and costs a second read.
/// (A slot holding a std::string was 56 bytes: one lookup in three straddled two lines, and the
/// table for 100 k symbols was 15 MB against 8 MB now.)
template <class V>
class string_map {
    static_assert(std::is_trivially_copyable_v<V>);
    static_assert(sizeof(V) <= 8 && alignof(V) <= 8);

  public:
    /// The longest key stored in its slot.
    static constexpr std::size_t k_inline = 32 - sizeof(std::uint64_t) - sizeof(V) - 1;

    string_map() { slots_.resize(16); }

    /// Returns a pointer to the value for `key`, or nullptr.
    [[nodiscard]] const V* find(std::string_view key) const noexcept {
        return find(key, hash_bytes(key));
    }

    /// Hashes `key` and starts loading its slot; pass the hash to find() later, when other work
    /// has hidden the load (a parser does this as soon as it has read the symbol).
    [[nodiscard]] std::uint64_t prefetch(std::string_view key) const noexcept {
        const std::uint64_t h = hash_bytes(key);
        __builtin_prefetch(&slots_[h & (slots_.size() - 1)]);
        return h;
    }

    /// find() with the key's hash already computed (by prefetch() or hash_bytes()).
    [[nodiscard]] const V* find(std::string_view key, std::uint64_t h) const noexcept {
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t i = h & mask;; i = (i + 1) & mask) {
            const slot& s = slots_[i];
            if (s.meta == k_empty) return nullptr;
            if (s.hash == h && same_key(s, key)) return &s.value;
        }
    }

    /// Inserts `key` unless present. Returns false (and leaves the map as is) when it was.
    bool insert(std::string_view key, V value) {
        if ((size_ + 1) * 2 > slots_.size()) grow();
        const std::uint64_t h = hash_bytes(key);
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t i = h & mask;; i = (i + 1) & mask) {
            slot& s = slots_[i];
            if (s.meta == k_empty) {
                s.hash = h;
                s.value = value;
                if (key.size() <= k_inline) {
                    if (!key.empty()) std::memcpy(s.key, key.data(), key.size());
                    s.meta = static_cast<std::uint8_t>(key.size() + 1);
                } else {
                    const auto at = static_cast<std::uint32_t>(long_keys_.size());
                    long_keys_.emplace_back(key);
                    std::memcpy(s.key, &at, sizeof at);
                    s.meta = k_long;
                }
                ++size_;
                return true;
            }
            if (s.hash == h && same_key(s, key)) return false;
        }
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }

    template <class F>
    void for_each(F&& f) const {
        for (const auto& s : slots_) {
            if (s.meta != k_empty) f(key_of(s), s.value);
        }
    }

  private:
    static constexpr std::uint8_t k_empty = 0;   // meta of a free slot
    static constexpr std::uint8_t k_long = 0xff; // the key is long_keys_[index in key]
    static_assert(k_inline + 1 < k_long);

    struct alignas(32) slot {
        std::uint64_t hash = 0;
        V value{};
        char key[k_inline]{};  // the key's bytes, or the index of a long key
        std::uint8_t meta = 0; // k_empty, the inline key's length + 1, or k_long
    };
    static_assert(sizeof(slot) == 32);

    [[nodiscard]] std::string_view key_of(const slot& s) const noexcept {
        if (s.meta != k_long) return {s.key, static_cast<std::size_t>(s.meta - 1)};
        std::uint32_t at;
        std::memcpy(&at, s.key, sizeof at);
        return long_keys_[at];
    }
    [[nodiscard]] bool same_key(const slot& s, std::string_view key) const noexcept {
        if (s.meta != k_long)
            return s.meta - 1u == key.size() &&
                   (key.empty() || std::memcmp(s.key, key.data(), key.size()) == 0);
        return key_of(s) == key;
    }

    void grow() {
        std::vector<slot> old = std::move(slots_);
        slots_.clear();
        slots_.resize(old.size() * 2);
        const std::size_t mask = slots_.size() - 1;
        for (const slot& s : old) {
            if (s.meta == k_empty) continue;
            std::size_t i = s.hash & mask;
            while (slots_[i].meta != k_empty)
                i = (i + 1) & mask;
            slots_[i] = s; // a long key keeps its index
        }
    }

    std::vector<slot> slots_;
    std::vector<std::string> long_keys_;
    std::size_t size_ = 0;
};

/// Shell-style glob: `*` any run, `?` one character, everything else literal.
[[nodiscard]] bool glob_match(std::string_view pattern, std::string_view text) noexcept;

} // namespace seismo::core
