#include "engine/publish/hub.hpp"

#include "engine/core/string_map.hpp"
#include "engine/publish/ws_codec.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <utility>

namespace seismo::publish {

message_ptr make_message(std::uint64_t seq, std::string topic, std::string_view json,
                         std::string state_key, bool fired, bool transient, std::uint8_t severity,
                         std::int64_t recv_ts) {
    auto m = std::make_shared<message>();
    m->seq = seq;
    m->topic = std::move(topic);
    m->signal = m->topic.substr(0, m->topic.find('/'));
    ws::append_frame(m->frame, ws::opcode::text, json);
    m->json_offset = m->frame.size() - json.size();
    m->state_key = std::move(state_key);
    m->fired = fired;
    m->transient = transient;
    m->severity = severity;
    m->recv_ts = recv_ts;
    return m;
}

bool topic_matches(std::string_view pattern, const message& m) noexcept {
    if (core::glob_match(pattern, m.topic)) return true;
    return pattern.find('/') == std::string_view::npos && core::glob_match(pattern, m.signal);
}

bool topic_matches(std::string_view pattern, std::string_view signal, std::string_view instrument) {
    if (pattern.find('/') == std::string_view::npos) return core::glob_match(pattern, signal);
    if (instrument.empty()) return core::glob_match(pattern, signal);
    std::string topic;
    topic.reserve(signal.size() + 1 + instrument.size());
    topic.append(signal).append(1, '/').append(instrument);
    return core::glob_match(pattern, topic);
}

bool topic_visible(const std::vector<std::string>& limit, std::string_view signal,
                   std::string_view instrument) {
    if (limit.empty()) return true;
    for (const auto& p : limit) {
        if (topic_matches(p, signal, instrument)) return true;
    }
    return false;
}

bool signal_visible(const std::vector<std::string>& limit, std::string_view signal) {
    if (limit.empty()) return true;
    for (const auto& p : limit) {
        if (core::glob_match(std::string_view(p).substr(0, p.find('/')), signal)) return true;
    }
    return false;
}

bool topic_visible(const std::vector<std::string>& limit, const message& m) noexcept {
    if (limit.empty()) return true;
    for (const auto& p : limit) {
        if (topic_matches(p, m)) return true;
    }
    return false;
}

void hub::deliver_home(home_state& h) {
    // On the home's thread: every session of it takes what it wants of the batches published
    // since the last time, and its writer starts.
    {
        std::lock_guard lock(h.mu);
        h.batch.swap(h.pending);
        h.posted = false;
        if (coalesce_.count() != 0) h.last = std::chrono::steady_clock::now();
        h.subs_now.assign(h.subs.begin(), h.subs.end());
    }
    std::uint64_t delivered = 0;
    for (const auto& w : h.subs_now) {
        const auto s = w.lock();
        if (!s) continue;
        const std::size_t took = s->offer(h.batch);
        delivered += took;
        if (took != 0) s->wake_now();
    }
    deliveries_.fetch_add(delivered, std::memory_order_relaxed);
    h.batch.clear();
    h.subs_now.clear();
}

void hub::schedule(const std::shared_ptr<home_state>& h,
                   std::chrono::steady_clock::time_point last) {
    if (coalesce_.count() != 0) {
        const auto due = last + coalesce_;
        if (std::chrono::steady_clock::now() < due) {
            // Within the window the last delivery opened: at its end, with whatever else is
            // published meanwhile. The timer is the wait's own (its handler holds it), so it
            // goes with the io_context, never after it.
            auto t = std::make_shared<boost::asio::steady_timer>(*h->io, due);
            t->async_wait([this, hp = h, t](const boost::system::error_code& ec) {
                if (!ec) deliver_home(*hp);
            });
            return;
        }
    }
    // The publisher's own thread delivers at once.
    if (h->io->get_executor().running_in_this_thread()) {
        deliver_home(*h);
    } else {
        boost::asio::post(*h->io, [this, hp = h] { deliver_home(*hp); });
    }
}

void hub::publish(const std::vector<message_ptr>& batch) {
    std::vector<std::shared_ptr<home_state>>& homes = homes_now_;
    {
        std::lock_guard lock(mu_);
        for (const auto& m : batch) {
            ring_.push_back(m);
            if (ring_.size() > ring_size_) ring_.pop_front();
            if (!m->transient) {
                if (m->fired)
                    active_[m->state_key] = m;
                else
                    active_.erase(m->state_key);
            }
        }
        published_.fetch_add(batch.size(), std::memory_order_relaxed);
        homes.clear();
        for (const auto& [io, h] : homes_)
            homes.push_back(h);
    }
    // One hand-off per thread with sessions, whatever their number: the batch joins what the
    // thread has still to deliver, and a delivery is scheduled if none is pending (else the
    // batch rides on it).
    for (const auto& h : homes) {
        bool first = false;
        std::chrono::steady_clock::time_point last;
        {
            std::lock_guard lock(h->mu);
            if (h->subs.empty()) continue;
            h->pending.insert(h->pending.end(), batch.begin(), batch.end());
            first = !std::exchange(h->posted, true);
            last = h->last;
        }
        if (first) schedule(h, last);
    }
    homes.clear();
}

void hub::subscribe(const std::shared_ptr<hub_subscriber>& s,
                    const std::function<bool(const message&)>& matches,
                    std::optional<std::uint64_t> since,
                    const std::function<void(subscription&)>& deliver) {
    subscription r;
    std::lock_guard lock(mu_);
    auto& h = homes_[&s->home()];
    if (!h) {
        h = std::make_shared<home_state>();
        h->io = &s->home();
    }
    {
        std::lock_guard hl(h->mu);
        bool known = false;
        for (const auto& w : h->subs)
            known = known || w.lock().get() == s.get();
        if (!known) h->subs.push_back(s);
    }
    for (const auto& [key, m] : active_) {
        if (matches(*m)) r.active.push_back(m);
    }
    std::sort(r.active.begin(), r.active.end(),
              [](const auto& a, const auto& b) { return a->seq < b->seq; });
    r.last_seq = ring_.empty() ? 0 : ring_.back()->seq;
    if (since) {
        const std::uint64_t oldest = ring_.empty() ? 0 : ring_.front()->seq;
        if (!ring_.empty() && *since + 1 < oldest) r.gap = std::make_pair(*since + 1, oldest - 1);
        for (const auto& m : ring_) {
            if (m->seq > *since && matches(*m)) r.replay.push_back(m);
        }
        // What the replay carries is not repeated in the snapshot.
        const std::uint64_t from = std::max(*since + 1, oldest);
        std::erase_if(r.active, [&](const message_ptr& m) { return m->seq >= from; });
    }
    deliver(r);
}

void hub::locked(const std::function<void()>& f) {
    std::lock_guard lock(mu_);
    f();
}

void hub::remove(const hub_subscriber* s) {
    std::lock_guard lock(mu_);
    for (auto& [io, h] : homes_) {
        std::lock_guard hl(h->mu);
        std::erase_if(h->subs, [s](const std::weak_ptr<hub_subscriber>& w) {
            auto p = w.lock();
            return !p || p.get() == s;
        });
    }
}

std::size_t hub::subscribers() const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& [io, h] : homes_) {
        std::lock_guard hl(h->mu);
        for (const auto& w : h->subs)
            n += w.expired() ? 0 : 1;
    }
    return n;
}

std::uint64_t hub::last_seq() const {
    std::lock_guard lock(mu_);
    return ring_.empty() ? 0 : ring_.back()->seq;
}

std::vector<message_ptr> hub::active() const {
    std::lock_guard lock(mu_);
    std::vector<message_ptr> v;
    for (const auto& [k, m] : active_)
        v.push_back(m);
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a->seq < b->seq; });
    return v;
}

} // namespace seismo::publish
