#pragma once
// A run's link to NATS JetStream (DESIGN §10): the connection and streams of [nats]; for an
// engine, its triggers published to seismo.trigger.<signal>.<instrument> in the trigger stream
// with Nats-Msg-Id = <config digest>:<seq>; for `seismo feed`, every tick to
// seismo.tick.<feed>.<instrument> in the tick stream with Nats-Msg-Id = <feed>:<recv_ns>:<n>;
// and, for an engine restarting against a stream that already holds its triggers, the resume
// point: the last trigger stored, so that a rebuild publishes nothing already stored and
// numbers what follows after it.
//
// Threads: built on the caller's; publish_trigger() on the trigger writer's thread,
// forward_tick() on the signal thread (`seismo feed`), the resume filter on the signal thread.

#include "engine/config.hpp"
#include "engine/events.hpp"
#include "engine/generation.hpp"
#include "signals/trigger.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace prometheus {
class Collectable;
}
namespace seismo::publish {
class nats_connection;
class jetstream_publisher;
struct message;
} // namespace seismo::publish

namespace seismo::engine {

/// The last trigger a stream holds for a config digest: its seq and what identifies it (the
/// Seismo-Resume header: receive time, fired or cleared, level, condition, topic).
struct resume_point {
    bool found = false;
    std::uint64_t seq = 0;
    core::nanos recv_ts = 0;
    bool fired = false;
    std::uint32_t level = 0;
    std::uint32_t condition = 0;
    std::string topic;
};

/// "<recv_ts>;<fired>;<level>;<condition>;<topic>", and back: of a resume point, or of the
/// trigger a message carries.
[[nodiscard]] std::string resume_header(const resume_point& p);
[[nodiscard]] std::string resume_header(const publish::message& m);
[[nodiscard]] bool parse_resume_header(std::string_view h, resume_point& out);

/// The signal thread's filter for a restarted engine: triggers up to and including the resume
/// point are already stored and are held back; the first one after it is numbered resume.seq
/// + 1, and every later one (and the input seqs a composite names) shifted the same way.
class trigger_resume {
  public:
    trigger_resume() = default;
    /// Holds back what `p` says is stored (before the signal thread starts).
    void resume_after(resume_point p) {
        p_ = std::move(p);
        active_ = p_.found;
        shift_ = 0;
    }
    /// False: already stored, hold it back. Otherwise renumbers `t` and lets it through.
    bool admit(signals::trigger& t, const generation& g, const core::instrument_registry& reg);
    [[nodiscard]] bool active() const noexcept { return active_; }
    /// Still holding back, or renumbering: admit() has work to do.
    [[nodiscard]] bool engaged() const noexcept { return active_ || shift_ != 0; }
    [[nodiscard]] std::int64_t shift() const noexcept { return shift_; }
    [[nodiscard]] std::uint64_t held_back() const noexcept {
        return held_.load(std::memory_order_relaxed);
    }

  private:
    [[nodiscard]] bool same(const signals::trigger& t, const generation& g,
                            const core::instrument_registry& reg) const;
    resume_point p_;
    bool active_ = false;
    std::int64_t shift_ = 0;
    std::atomic<std::uint64_t> held_{0};
};

class nats_link {
  public:
    /// Connects (up to 10 s) and makes sure the streams exist. `feed_mode`: `seismo feed`,
    /// which publishes ticks and no triggers. Throws publish::nats_error.
    nats_link(const config& cfg, bool feed_mode,
              std::function<void(std::string_view id)> on_ack = {});
    ~nats_link();
    nats_link(const nats_link&) = delete;
    nats_link& operator=(const nats_link&) = delete;

    [[nodiscard]] const publish::nats_connection& connection() const noexcept { return *conn_; }
    /// Where `venue = "nats"` feeds start: now - (longest window + rebuild_margin).
    [[nodiscard]] core::nanos rebuild_from(core::nanos now) const noexcept;
    /// Reads the trigger stream's last trigger of `digest` (the last 4,096 messages looked at).
    [[nodiscard]] resume_point read_resume(std::string_view digest) const;

    void start();
    /// Stops after waiting up to `drain` for acks.
    void stop(core::nanos drain);

    /// An engine's trigger (the writer thread, in seq order).
    void publish_trigger(const publish::message& m, std::string_view digest);
    [[nodiscard]] bool publishes_triggers() const noexcept { return triggers_ != nullptr; }

    /// `seismo feed`: one tick of feed `feed_name` (signal thread).
    void forward_tick(const feed_event& e, std::string_view feed_name,
                      const core::instrument_registry& reg);

    /// The publishers' probes.
    [[nodiscard]] std::vector<std::shared_ptr<prometheus::Collectable>> probes() const;
    /// "nats":{...} for /v1/state.
    [[nodiscard]] std::string state_json() const;

  private:
    nats_config cfg_;
    core::nanos longest_ = 0;
    std::unique_ptr<publish::nats_connection> conn_;
    std::unique_ptr<publish::jetstream_publisher> triggers_, ticks_;
};

} // namespace seismo::engine
