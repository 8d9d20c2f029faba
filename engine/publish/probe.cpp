#include "engine/publish/metrics.hpp"
#include "engine/publish/server.hpp"

namespace seismo::publish {
namespace {

class server_probe final : public prometheus::Collectable {
  public:
    server_probe(const server* srv, const hub& h) : srv_(srv), hub_(h) {}

    [[nodiscard]] std::vector<prometheus::MetricFamily> Collect() const override {
        using prometheus::MetricType;
        std::vector<prometheus::MetricFamily> out;
        const server_stats* ss = srv_ != nullptr ? &srv_->stats() : nullptr;
        auto v = [ss](const std::atomic<std::uint64_t> server_stats::*f) {
            return ss != nullptr ? static_cast<double>((ss->*f).load(std::memory_order_relaxed))
                                 : 0.0;
        };
        add_single(out, "seismo_subscribers", "Open /v1/stream sessions.", MetricType::Gauge,
                   v(&server_stats::subscribers));
        add_single(out, "seismo_connections", "Open HTTP and WebSocket connections.",
                   MetricType::Gauge, v(&server_stats::connections));
        auto dropped = make_family("seismo_subscriber_dropped_total",
                                   "Subscribers cut off, per reason.", MetricType::Counter);
        for (std::size_t r = 0; r < static_cast<std::size_t>(drop_reason::count_); ++r) {
            add_sample(dropped, {{"reason", to_string(static_cast<drop_reason>(r))}},
                       ss != nullptr
                           ? static_cast<double>(ss->dropped[r].load(std::memory_order_relaxed))
                           : 0.0);
        }
        out.push_back(std::move(dropped));
        add_single(out, "seismo_http_requests_total", "HTTP requests served.", MetricType::Counter,
                   v(&server_stats::http_requests));
        add_single(out, "seismo_client_errors_total",
                   "Error messages sent to clients for bad requests.", MetricType::Counter,
                   v(&server_stats::client_errors));
        add_single(out, "seismo_connections_refused_total",
                   "Connections and sessions refused over a connection limit.", MetricType::Counter,
                   v(&server_stats::refused));
        auto closed = make_family("seismo_http_closed_total",
                                  "HTTP connections closed by the server before a whole request: "
                                  "timeout (none within request_timeout), evicted (idle, closed "
                                  "to admit a new connection at the limit).",
                                  MetricType::Counter);
        add_sample(closed, {{"reason", "timeout"}}, v(&server_stats::http_timeouts));
        add_sample(closed, {{"reason", "evicted"}}, v(&server_stats::http_evicted));
        out.push_back(std::move(closed));
        add_single(out, "seismo_http_errors_total",
                   "Requests answered 500 because a route failed (the response says why).",
                   MetricType::Counter, v(&server_stats::http_errors));
        auto denied = make_family("seismo_http_denied_total",
                                  "Requests refused access: no token, an unknown token, or a "
                                  "token whose roles do not cover the path.",
                                  MetricType::Counter);
        for (std::size_t r = 0; r < static_cast<std::size_t>(deny_reason::count_); ++r) {
            add_sample(denied, {{"reason", to_string(static_cast<deny_reason>(r))}},
                       ss != nullptr
                           ? static_cast<double>(ss->denied[r].load(std::memory_order_relaxed))
                           : 0.0);
        }
        out.push_back(std::move(denied));
        add_single(out, "seismo_deliveries_total", "Trigger messages handed to subscribers.",
                   MetricType::Counter, static_cast<double>(hub_.deliveries()));
        add_single(out, "seismo_subscriber_writes_total",
                   "Writes carrying triggers to subscribers, each one gather write of frames "
                   "(seismo_deliveries_total over it: triggers per write).",
                   MetricType::Counter, v(&server_stats::subscriber_writes));
        return out;
    }

  private:
    const server* srv_;
    const hub& hub_;
};

} // namespace

std::shared_ptr<prometheus::Collectable> make_server_probe(const server* srv, const hub& h) {
    return std::make_shared<server_probe>(srv, h);
}

} // namespace seismo::publish
