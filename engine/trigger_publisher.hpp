#pragma once
// How triggers leave a live run (DESIGN §1, §6). The signal thread queues each trigger; with the
// server on, it wakes the I/O thread (one wake-up in flight, its memory preallocated), which
// serialises each trigger once — its JSON inside a ready WebSocket frame — and fans it out
// through the hub to every subscribed session on the same thread: one hand-off from the signal
// thread, the fewest a subscriber can be reached with. The same message then goes to the
// writer thread, which writes the audit log (--out), standard output and the dead-letter file,
// so a slow disk or terminal never holds the I/O thread up. Without the server the writer
// thread serialises too; at shutdown it takes over whatever the I/O thread left queued, so the
// audit log still gets every trigger.
//
// Threads: enqueue() on the signal thread; the I/O part on the io_context's thread; the writer
// thread its own; the readers (probe, counts) anywhere.

#include "engine/config.hpp"
#include "engine/core/counter.hpp"
#include "engine/events.hpp"
#include "engine/generation.hpp"
#include "engine/publish/hub.hpp"
#include "signals/trigger.hpp"

#include <concurrentqueue/concurrentqueue.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace boost::asio {
class io_context;
}
namespace prometheus {
class Collectable;
}

namespace seismo::engine {

struct publisher_options {
    std::string out;            ///< audit log: every trigger appended as a JSON line ("" = none)
    bool print = true;          ///< every trigger to standard output
    std::string dead_letter;    ///< refused input appended as JSON lines ("" = none)
    bool deterministic = false; ///< leave wall-clock fields out of triggers
    bool log_refusals = true;   ///< refusals on standard error, once a second per feed and reason
};

class trigger_publisher {
  public:
    /// Triggers and dead letters are named by `gens` (the generation a trigger carries; the
    /// latest for dead letters), which must outlive the publisher.
    trigger_publisher(const generations& gens, const core::instrument_registry& reg,
                      publisher_options o, publish::hub& hub, dead_queue& dead);
    ~trigger_publisher();
    trigger_publisher(const trigger_publisher&) = delete;
    trigger_publisher& operator=(const trigger_publisher&) = delete;

    /// Serialise and fan out to the hub's subscribers (the server is on). The signal thread
    /// runs `io` (run to completion): wake() only notes the work, and the signal thread calls
    /// publish_here() after each batch. Before start().
    void serve_on(boost::asio::io_context& io);
    /// Serialises and fans out what was pushed since the last call. Signal thread.
    void publish_here();
    /// Starts the writer thread.
    void start();

    /// Signal thread: queues a trigger and wakes whoever publishes it.
    void enqueue(const signals::trigger& t) {
        push(t);
        wake();
    }
    /// The two halves of enqueue(), for a caller that measures between them: a trigger is
    /// "enqueued" once it is in the queue, before the wake-up (a futex or a post) is issued.
    void push(const signals::trigger& t);
    void wake();

    /// Shutdown, in order: the I/O thread has ended (the writer thread takes over the queue);
    /// the signal thread has ended (nothing more comes); then join() drains and flushes.
    void io_ended();
    void signal_ended();
    void join();
    /// Closes and reopens the audit log and the dead-letter file (log rotation: SIGHUP); the
    /// writer thread does it before its next write. Any thread.
    void reopen_outputs() noexcept;

    /// Triggers written by the writer thread (the audit log's count).
    [[nodiscard]] std::uint64_t published() const noexcept;
    /// Called with every trigger and its JSON as it is serialised (tests).
    void on_published(std::function<void(const signals::trigger&, std::string_view)> f);
    /// Hands every message to `f` on the writer thread, in seq order, after the files (the
    /// NATS publisher). Before start().
    void forward_to(std::function<void(const publish::message&)> f);

    /// seismo_triggers_total{signal,severity}, seismo_queue_depth{queue="triggers"|
    /// "dead_letters"}, seismo_dead_letters_dropped_total. Outlived by the publisher.
    [[nodiscard]] std::shared_ptr<prometheus::Collectable> make_probe() const;

    struct impl;

  private:
    std::unique_ptr<impl> p_;
};

} // namespace seismo::engine
