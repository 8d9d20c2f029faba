#include "signals/reload.hpp"

#include <bit>
#include <cstring>
#include <unordered_map>

namespace seismo::signals {
namespace {

/// FNV-1a over typed fields, each prefixed by its tag so that no two definitions collide by
/// concatenation ("ab","c" vs "a","bc").
class digester {
  public:
    void bytes(const void* p, std::size_t n) noexcept {
        const auto* b = static_cast<const unsigned char*>(p);
        for (std::size_t i = 0; i < n; ++i) {
            h_ ^= b[i];
            h_ *= 0x100000001b3ull;
        }
    }
    template <class T>
    void num(char tag, T v) noexcept {
        bytes(&tag, 1);
        bytes(&v, sizeof v);
    }
    void real(char tag, double v) noexcept {
        // Every NaN is one value here (a NaN reference means "none").
        num(tag, v != v ? std::uint64_t{0x7ff8000000000000ull} : std::bit_cast<std::uint64_t>(v));
    }
    void str(char tag, const std::string& s) noexcept {
        num(tag, static_cast<std::uint64_t>(s.size()));
        bytes(s.data(), s.size());
    }
    [[nodiscard]] std::uint64_t value() const noexcept { return h_; }

  private:
    std::uint64_t h_ = 0xcbf29ce484222325ull;
};

} // namespace

std::uint64_t definition_digest(const signal_spec& s) {
    digester d;
    d.str('n', s.name);
    d.num('k', static_cast<std::uint8_t>(s.kind));
    d.num('I', static_cast<std::uint64_t>(s.instruments.size()));
    for (const auto& i : s.instruments)
        d.str('i', i);
    d.num('S', static_cast<std::uint64_t>(s.select.size()));
    for (const auto& sel : s.select) {
        d.num('w', static_cast<std::uint8_t>(sel.what));
        d.str('s', sel.text);
    }
    d.num('r', static_cast<std::uint8_t>(s.ref));
    d.real('v', s.ref_value);
    d.num('W', s.window);
    d.num('R', s.resolution);
    d.num('L', s.lookback);
    d.num('u', static_cast<std::uint8_t>(s.units));
    d.real('m', s.member_at);
    d.num('M', s.min_members);
    d.num('h', s.halflife);
    d.num('c', s.min_count);
    d.num('P', static_cast<std::uint64_t>(s.inputs.size()));
    for (const auto& i : s.inputs)
        d.str('p', i);
    d.num('t', s.within);
    return d.value();
}

std::uint64_t levels_digest(const signal_spec& s) {
    digester d;
    d.num('N', static_cast<std::uint64_t>(s.levels.size()));
    for (const auto& l : s.levels) {
        d.real('a', l.at);
        d.num('e', static_cast<std::uint8_t>(l.sev));
    }
    d.num('d', static_cast<std::uint8_t>(s.dir));
    d.real('x', s.rearm);
    return d.value();
}

const char* to_string(carry c) noexcept {
    switch (c) {
    case carry::kept:
        return "kept";
    case carry::relevelled:
        return "relevelled";
    case carry::restarted:
        return "restarted";
    case carry::added:
        return "added";
    }
    return "?";
}

bool reload_plan::unchanged() const noexcept {
    if (!ended.empty()) return false;
    for (std::size_t i = 0; i < how.size(); ++i) {
        if (how[i] != carry::kept || from[i] != static_cast<std::int32_t>(i)) return false;
    }
    return true;
}

reload_plan plan_reload(const std::vector<signal_spec>& old_specs,
                        const std::vector<signal_spec>& new_specs) {
    reload_plan p;
    std::unordered_map<std::uint64_t, std::uint32_t> by_digest;
    std::unordered_map<std::string, std::uint32_t> by_name;
    for (std::size_t i = 0; i < old_specs.size(); ++i) {
        by_digest.emplace(definition_digest(old_specs[i]), static_cast<std::uint32_t>(i));
        by_name.emplace(old_specs[i].name, static_cast<std::uint32_t>(i));
    }
    std::vector<bool> taken(old_specs.size(), false);
    std::vector<bool> named(old_specs.size(), false);
    for (const auto& s : new_specs) {
        std::int32_t from = reload_plan::k_none;
        carry how = carry::added;
        // The name is part of the definition digest, so a match is also a match by name; the
        // full comparison guards against a digest collision.
        if (auto it = by_digest.find(definition_digest(s));
            it != by_digest.end() && !taken[it->second] &&
            definition_digest(old_specs[it->second]) == definition_digest(s) &&
            old_specs[it->second].name == s.name) {
            from = static_cast<std::int32_t>(it->second);
            taken[it->second] = true;
            how = levels_digest(old_specs[it->second]) == levels_digest(s) ? carry::kept
                                                                           : carry::relevelled;
        } else if (by_name.contains(s.name)) {
            how = carry::restarted;
        }
        if (auto it = by_name.find(s.name); it != by_name.end()) named[it->second] = true;
        p.from.push_back(from);
        p.how.push_back(how);
    }
    for (std::size_t i = 0; i < old_specs.size(); ++i) {
        if (taken[i]) continue;
        p.ended.push_back(static_cast<std::uint32_t>(i));
        if (!named[i]) p.removed.push_back(static_cast<std::uint32_t>(i));
    }
    return p;
}

bool same_level(const signal_spec& a, const signal_spec& b, std::size_t i) noexcept {
    return i < a.levels.size() && i < b.levels.size() && a.dir == b.dir &&
           a.levels[i].sev == b.levels[i].sev &&
           std::memcmp(&a.levels[i].at, &b.levels[i].at, sizeof(double)) == 0;
}

} // namespace seismo::signals
