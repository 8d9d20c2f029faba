#include "engine/metrics.hpp"

#include "engine/core/json_writer.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace seismo::engine {
namespace {

void append_value(std::string& out, double v) {
    if (std::isnan(v))
        out += "NaN";
    else if (std::isinf(v))
        out += v > 0 ? "+Inf" : "-Inf";
    else
        core::append_double(out, v);
}

/// Label values escape backslash, double quote and newline.
void append_label_value(std::string& out, std::string_view v) {
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
}

} // namespace

void latency_histogram::read(std::array<std::uint64_t, k_buckets + 1>& cumulative, double& sum,
                             std::uint64_t& count) const noexcept {
    std::uint64_t acc = 0;
    for (std::size_t i = 0; i <= k_buckets; ++i) {
        acc += counts_[i].load(std::memory_order_relaxed);
        cumulative[i] = acc;
    }
    count = acc;
    sum = sum_.load(std::memory_order_relaxed);
}

void exposition::family(std::string_view name, std::string_view help, std::string_view type) {
    if (std::find(seen_.begin(), seen_.end(), name) != seen_.end()) return;
    seen_.emplace_back(name);
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
}

void exposition::sample(std::string_view name, const labels& l, double value,
                        std::string_view extra_label, std::string_view extra_value) {
    out_ += name;
    if (!l.empty() || !extra_label.empty()) {
        out_ += '{';
        bool first = true;
        for (const auto& [k, v] : l) {
            if (!first) out_ += ',';
            first = false;
            out_ += k;
            out_ += "=\"";
            append_label_value(out_, v);
            out_ += '"';
        }
        if (!extra_label.empty()) {
            if (!first) out_ += ',';
            out_ += extra_label;
            out_ += "=\"";
            out_ += extra_value;
            out_ += '"';
        }
        out_ += '}';
    }
    out_ += ' ';
    append_value(out_, value);
    out_ += '\n';
}

void exposition::counter(std::string_view name, std::string_view help, const labels& l,
                         double value) {
    family(name, help, "counter");
    sample(name, l, value);
}

void exposition::gauge(std::string_view name, std::string_view help, const labels& l,
                       double value) {
    family(name, help, "gauge");
    sample(name, l, value);
}

void exposition::histogram(std::string_view name, std::string_view help, const labels& l,
                           const latency_histogram& h) {
    family(name, help, "histogram");
    std::array<std::uint64_t, latency_histogram::k_buckets + 1> cum{};
    double sum = 0;
    std::uint64_t count = 0;
    h.read(cum, sum, count);
    const std::string bucket = std::string(name) + "_bucket";
    for (std::size_t i = 0; i < latency_histogram::k_buckets; ++i) {
        std::string le;
        core::append_double(le, latency_histogram::k_bounds[i]);
        sample(bucket, l, static_cast<double>(cum[i]), "le", le);
    }
    sample(bucket, l, static_cast<double>(cum[latency_histogram::k_buckets]), "le", "+Inf");
    sample(std::string(name) + "_sum", l, sum);
    sample(std::string(name) + "_count", l, static_cast<double>(count));
}

void exposition::process() {
    const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    std::ifstream stat("/proc/self/stat");
    std::string line;
    std::getline(stat, line);
    // Fields after the parenthesised command name: state is field 3.
    const auto close = line.rfind(')');
    if (close != std::string::npos) {
        std::istringstream rest(line.substr(close + 2));
        std::vector<std::string> f;
        for (std::string x; rest >> x;)
            f.push_back(x);
        // f[0] is field 3 (state): utime 14, stime 15, starttime 22, vsize 23, rss 24
        auto field = [&](std::size_t n) { return n - 3 < f.size() ? std::stod(f[n - 3]) : 0.0; };
        counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", {},
                (field(14) + field(15)) / tick);
        std::ifstream up("/proc/uptime");
        double uptime = 0;
        up >> uptime;
        const double boot = static_cast<double>(std::time(nullptr)) - uptime;
        gauge("process_start_time_seconds",
              "Start time of the process since unix epoch in seconds.", {},
              boot + field(22) / tick);
        gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", {}, field(23));
        gauge("process_resident_memory_bytes", "Resident memory size in bytes.", {},
              field(24) * page);
    }
    double fds = 0;
    if (DIR* d = opendir("/proc/self/fd")) {
        while (const dirent* e = readdir(d)) {
            if (e->d_name[0] != '.') fds += 1;
        }
        closedir(d);
    }
    gauge("process_open_fds", "Number of open file descriptors.", {}, fds);
}

} // namespace seismo::engine
