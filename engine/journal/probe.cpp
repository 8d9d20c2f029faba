#include "engine/journal/probe.hpp"

#include "engine/journal/writer.hpp"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace seismo::journal {
namespace {

class journal_probe final : public prometheus::Collectable {
  public:
    explicit journal_probe(const writer* w) : w_(w) {}

    [[nodiscard]] std::vector<prometheus::MetricFamily> Collect() const override {
        std::vector<prometheus::MetricFamily> out;
        auto add = [&](const char* name, const char* help, prometheus::MetricType type,
                       double value) {
            prometheus::ClientMetric m;
            if (type == prometheus::MetricType::Counter)
                m.counter.value = value;
            else
                m.gauge.value = value;
            out.push_back({name, help, type, {std::move(m)}});
        };
        const auto v = [this](auto f) { return w_ != nullptr ? static_cast<double>(f(*w_)) : 0.0; };
        add("seismo_journal_bytes_total", "Bytes written to the journal.",
            prometheus::MetricType::Counter, v([](const writer& w) { return w.bytes_written(); }));
        add("seismo_journal_frames_total", "Frames recorded in the journal.",
            prometheus::MetricType::Counter, v([](const writer& w) { return w.frames(); }));
        add("seismo_journal_waits_total", "Times a producer waited for room in a journal ring.",
            prometheus::MetricType::Counter, v([](const writer& w) { return w.ring_waits(); }));
        add("seismo_journal_backlog_bytes",
            "Bytes recorded but not yet taken by the journal writer thread.",
            prometheus::MetricType::Gauge, v([](const writer& w) { return w.backlog_bytes(); }));
        return out;
    }

  private:
    const writer* w_;
};

} // namespace

std::shared_ptr<prometheus::Collectable> make_probe(const writer* w) {
    return std::make_shared<journal_probe>(w);
}

} // namespace seismo::journal
