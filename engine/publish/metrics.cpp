#include "engine/publish/metrics.hpp"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <dirent.h>
#include <fstream>
#include <limits>
#include <sstream>
#include <unistd.h>

namespace seismo::publish {

metrics_registry::metrics_registry() : registry_(std::make_shared<prometheus::Registry>()) {
    probes_.push_back(registry_);
}

void metrics_registry::add(std::shared_ptr<prometheus::Collectable> probe) {
    probes_.push_back(std::move(probe));
}

std::string metrics_registry::exposition() const {
    // One block per family name (the text format allows no other), even when two probes add
    // samples to one family (seismo_queue_depth: the runtime's queues and the publisher's); a
    // family without samples is left out.
    std::vector<prometheus::MetricFamily> families;
    for (const auto& p : probes_) {
        for (auto& f : p->Collect()) {
            if (f.metric.empty()) continue;
            auto same =
                std::find_if(families.begin(), families.end(),
                             [&](const prometheus::MetricFamily& g) { return g.name == f.name; });
            if (same == families.end()) {
                families.push_back(std::move(f));
            } else {
                same->metric.insert(same->metric.end(), std::make_move_iterator(f.metric.begin()),
                                    std::make_move_iterator(f.metric.end()));
            }
        }
    }
    return prometheus::TextSerializer().Serialize(families);
}

prometheus::MetricFamily make_family(std::string name, std::string help,
                                     prometheus::MetricType type) {
    prometheus::MetricFamily f;
    f.name = std::move(name);
    f.help = std::move(help);
    f.type = type;
    return f;
}

void add_single(std::vector<prometheus::MetricFamily>& out, std::string name, std::string help,
                prometheus::MetricType type, double value) {
    prometheus::MetricFamily f = make_family(std::move(name), std::move(help), type);
    add_sample(f, {}, value);
    out.push_back(std::move(f));
}

void add_sample(prometheus::MetricFamily& f, label_list labels, double value) {
    prometheus::ClientMetric m;
    m.label = std::move(labels);
    if (f.type == prometheus::MetricType::Counter)
        m.counter.value = value;
    else
        m.gauge.value = value;
    f.metric.push_back(std::move(m));
}

void add_histogram(prometheus::MetricFamily& f, label_list labels,
                   const core::latency_histogram& h) {
    std::array<std::uint64_t, core::latency_histogram::k_buckets + 1> cum{};
    double sum = 0;
    std::uint64_t count = 0;
    h.read(cum, sum, count);
    prometheus::ClientMetric m;
    m.label = std::move(labels);
    for (std::size_t i = 0; i <= core::latency_histogram::k_buckets; ++i) {
        prometheus::ClientMetric::Bucket b;
        b.cumulative_count = cum[i];
        b.upper_bound = i < core::latency_histogram::k_buckets
                            ? core::latency_histogram::k_bounds[i]
                            : std::numeric_limits<double>::infinity();
        m.histogram.bucket.push_back(b);
    }
    m.histogram.sample_count = count;
    m.histogram.sample_sum = sum;
    f.metric.push_back(std::move(m));
}

namespace {

class process_probe final : public prometheus::Collectable {
  public:
    [[nodiscard]] std::vector<prometheus::MetricFamily> Collect() const override {
        using prometheus::MetricType;
        std::vector<prometheus::MetricFamily> out;
        const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
        const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
        std::ifstream stat("/proc/self/stat");
        std::string line;
        std::getline(stat, line);
        // Fields after the parenthesised command name: f[0] is field 3 (state); utime 14,
        // stime 15, num_threads 20, starttime 22, vsize 23, rss 24.
        const auto close = line.rfind(')');
        if (close != std::string::npos && close + 2 < line.size()) {
            std::istringstream rest(line.substr(close + 2));
            std::vector<std::string> f;
            for (std::string x; rest >> x;)
                f.push_back(x);
            auto field = [&](std::size_t n) {
                return n - 3 < f.size() ? std::strtod(f[n - 3].c_str(), nullptr) : 0.0;
            };
            add_single(out, "process_cpu_seconds_total",
                       "Total user and system CPU time spent in seconds.", MetricType::Counter,
                       (field(14) + field(15)) / tick);
            std::ifstream up("/proc/uptime");
            double uptime = 0;
            up >> uptime;
            const double boot = static_cast<double>(std::time(nullptr)) - uptime;
            add_single(out, "process_start_time_seconds",
                       "Start time of the process since unix epoch in seconds.", MetricType::Gauge,
                       boot + field(22) / tick);
            add_single(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
                       MetricType::Gauge, field(23));
            add_single(out, "process_resident_memory_bytes", "Resident memory size in bytes.",
                       MetricType::Gauge, field(24) * page);
            add_single(out, "process_threads", "Number of OS threads in the process.",
                       MetricType::Gauge, field(20));
        }
        double fds = 0;
        if (DIR* d = opendir("/proc/self/fd")) {
            while (const dirent* e = readdir(d)) {
                if (e->d_name[0] != '.') fds += 1;
            }
            closedir(d);
            fds -= 1; // the directory stream's own descriptor
        }
        add_single(out, "process_open_fds", "Number of open file descriptors.", MetricType::Gauge,
                   fds);
        add_single(out, "process_max_fds", "Maximum number of open file descriptors.",
                   MetricType::Gauge, static_cast<double>(sysconf(_SC_OPEN_MAX)));
        return out;
    }
};

} // namespace

std::shared_ptr<prometheus::Collectable> make_process_probe() {
    return std::make_shared<process_probe>();
}

} // namespace seismo::publish
