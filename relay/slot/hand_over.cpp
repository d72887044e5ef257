// The holder's side of the hand-over: numbering, the backlog, confirmations, resends,
// bounds.
#include "relay/slot/hand_over.h"

#include <algorithm>

#include "relay/protocol/payloads.h"

namespace rt {
namespace {

// What a kept change costs: its groups' payloads and ids, its notices, plus the bookkeeping.
int64_t cost(const ChangeEvent& ev) {
    size_t n = sizeof(HandOver::Entry);
    for (const ChangeGroup& g : ev.groups) n += sizeof(ChangeGroup) + g.payload.size() + g.ids.size() * sizeof(int64_t);
    for (const BindingNotice& b : ev.notices) n += sizeof(BindingNotice) + b.message.size();
    return static_cast<int64_t>(n);
}

// Whether ev concerns subscription id (a group of it carries the id, or a notice is for it).
bool carries(const ChangeEvent& ev, int64_t id) {
    for (const ChangeGroup& g : ev.groups)
        if (std::find(g.ids.begin(), g.ids.end(), id) != g.ids.end()) return true;
    return std::any_of(ev.notices.begin(), ev.notices.end(), [id](const BindingNotice& n) { return n.id == id; });
}

}  // namespace

void HandOver::restart(uint64_t stream) {
    stream_ = stream;
    nodes_.clear();
    bytes_ = 0;
}

HandOverTag HandOver::tag(const Node& n, uint64_t seq) const {
    HandOverTag t;
    t.stream = stream_;
    t.seq = seq;
    t.base = n.entries.empty() ? n.next_seq : n.entries.front().seq;
    t.lossy = n.dropped > n.confirmed;
    return t;
}

HandOver::Send HandOver::add(const std::string& node, ChangeEvent ev, int64_t now_ms) {
    Node& n = nodes_[node];
    uint64_t seq = n.next_seq++;
    if (n.gone) {
        // Not kept (the slot no longer waits for this node): it is told it starts here.
        n.dropped = seq - 1;
        unkept_ = std::move(ev);
        HandOverTag t = tag(n, seq);
        t.base = seq;
        return {node, t, &unkept_};
    }
    Entry e;
    e.seq = seq;
    e.added_ms = now_ms;
    e.sent_ms = now_ms;
    e.bytes = cost(ev);
    e.ev = std::move(ev);
    n.bytes += e.bytes;
    bytes_ += e.bytes;
    n.entries.push_back(std::move(e));
    return {node, tag(n, seq), &n.entries.back().ev};
}

void HandOver::confirmed(const std::string& node, const HandOverAck& ack, int64_t now_ms) {
    if (ack.stream != stream_) return;  // a previous stream's: void
    auto it = nodes_.find(node);
    if (it == nodes_.end()) return;
    Node& n = it->second;
    n.up = true;
    n.gone = false;  // it answers again: keep what follows
    if (ack.through > n.confirmed) n.confirmed = std::min(ack.through, n.next_seq - 1);
    n.received = std::max({n.received, n.confirmed, std::min(ack.received, n.next_seq - 1)});
    while (!n.entries.empty() && n.entries.front().seq <= n.confirmed) {
        n.bytes -= n.entries.front().bytes;
        bytes_ -= n.entries.front().bytes;
        n.entries.pop_front();
    }
    // A gap, or a node that has less than we can give it (it restarted, or we dropped some):
    // it gets what is kept, or a base notice.
    uint64_t base = n.entries.empty() ? n.next_seq : n.entries.front().seq;
    if (ack.resend || ack.through + 1 < base) n.resend_wanted = true;
}

void HandOver::returned(const std::string& node) {
    auto it = nodes_.find(node);
    if (it == nodes_.end()) return;
    it->second.up = true;
    it->second.received = it->second.confirmed;  // a new incarnation has only what it confirmed
    it->second.resend_wanted = true;
    it->second.last_resend_ms = INT64_MIN / 2;
}

void HandOver::left(const std::string& node) {
    auto it = nodes_.find(node);
    if (it != nodes_.end()) it->second.up = false;
}

bool HandOver::past_bounds(const Node& n, int64_t now_ms) const {
    if (n.entries.empty()) return false;
    return n.bytes > bounds_.max_bytes || now_ms - n.entries.front().added_ms > bounds_.max_age_ms;
}

void HandOver::drop_all(Node& n) {
    if (!n.entries.empty()) n.dropped = n.entries.back().seq;
    bytes_ -= n.bytes;
    n.bytes = 0;
    n.entries.clear();
    n.places.clear();
    n.gone = true;
}

void HandOver::resend(const std::string& name, Node& n, int64_t now_ms, Out& out) {
    n.last_resend_ms = now_ms;
    n.resend_wanted = false;
    if (n.entries.empty()) {
        out.sends.push_back({name, tag(n, 0), nullptr});  // nothing kept: where it can start
        return;
    }
    for (Entry& e : n.entries) {
        e.sent_ms = now_ms;
        out.sends.push_back({name, tag(n, e.seq), &e.ev});
    }
}

// The oldest change the node has not said it received: a node whose slow client holds
// its confirmation back (it confirms what its sockets took) still says what it received,
// and that is not resent.
const HandOver::Entry* HandOver::oldest_unreceived(const Node& n) {
    auto it = std::upper_bound(n.entries.begin(), n.entries.end(), n.received,
                               [](uint64_t seq, const Entry& e) { return seq < e.seq; });
    return it == n.entries.end() ? nullptr : &*it;
}

void HandOver::tick(int64_t now_ms, Out& out) {
    for (auto& [name, n] : nodes_) {
        if (past_bounds(n, now_ms)) {
            out.dropped += n.entries.size();
            drop_all(n);
            out.gone.push_back(name);
        }
        if (!n.up) continue;
        bool asked = n.resend_wanted && now_ms - n.last_resend_ms >= bounds_.resend_gap_ms;
        const Entry* unheard = oldest_unreceived(n);
        bool stale = unheard && now_ms - unheard->sent_ms >= bounds_.resend_after_ms;
        if (asked || stale) resend(name, n, now_ms, out);
    }
}

// A node's changes are kept in commit order: its oldest is its lowest.
uint64_t HandOver::floor() const {
    uint64_t lowest = 0;
    for (const auto& [name, n] : nodes_) {
        if (n.entries.empty()) continue;
        uint64_t lsn = n.entries.front().ev.pos.commit_lsn;
        if (lsn && (lowest == 0 || lsn < lowest)) lowest = lsn;
    }
    return lowest;
}

size_t HandOver::size() const {
    size_t total = 0;
    for (const auto& [name, n] : nodes_) total += n.entries.size();
    return total;
}

const std::deque<HandOver::Entry>* HandOver::unconfirmed(const std::string& node) const {
    auto it = nodes_.find(node);
    return it == nodes_.end() ? nullptr : &it->second.entries;
}

std::vector<const HandOver::Entry*> HandOver::for_subscription(const std::string& node, int64_t id,
                                                               const ChangePos& after) const {
    std::vector<const Entry*> found;
    const std::deque<Entry>* entries = unconfirmed(node);
    if (!entries) return found;
    for (const Entry& e : *entries)
        if (!(e.ev.pos <= after) && carries(e.ev, id))
            found.push_back(&e);
    return found;
}

// n.places brought up to date with the rows added since the last look. Rebuilt when more
// than half of the numbers it covers were confirmed meanwhile, so that it stays within
// about twice the ids kept; numbers below the backlog's front are skipped when read.
void HandOver::index(Node& n) {
    if (n.entries.empty()) {
        n.places.clear();
        n.indexed_from = n.indexed_to = 0;
        return;
    }
    const uint64_t front = n.entries.front().seq;
    if (n.indexed_to < front || front - n.indexed_from > n.indexed_to - front) {
        n.places.clear();
        n.indexed_from = front;
        n.indexed_to = front - 1;
    }
    auto next = std::partition_point(n.entries.begin(), n.entries.end(),
                                     [&](const Entry& e) { return e.seq <= n.indexed_to; });
    for (; next != n.entries.end(); ++next) {
        if (next->ev.kind != ChangeEvent::Kind::Row) continue;
        for (size_t g = 0; g < next->ev.groups.size(); ++g)
            for (int64_t id : next->ev.groups[g].ids)
                n.places[id].push_back({next->seq, static_cast<uint32_t>(g)});
    }
    n.indexed_to = n.entries.back().seq;
}

std::vector<ChangeEvent> HandOver::recovered_for(const std::string& to, const std::vector<int64_t>& ids) {
    struct Hit {
        uint64_t seq;
        uint32_t group;
        int64_t id;
    };
    std::vector<int64_t> wanted = ids;
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    std::vector<ChangeEvent> out;
    for (auto& [name, n] : nodes_) {
        if (name == to || n.entries.empty()) continue;
        index(n);
        const uint64_t front = n.entries.front().seq;
        std::vector<Hit> hits;
        for (int64_t id : wanted) {
            auto it = n.places.find(id);
            if (it == n.places.end()) continue;
            for (const Node::Place& p : it->second)
                if (p.seq >= front) hits.push_back({p.seq, p.group, id});
        }
        std::stable_sort(hits.begin(), hits.end(),
                         [](const Hit& a, const Hit& b) { return a.seq != b.seq ? a.seq < b.seq : a.group < b.group; });
        for (size_t i = 0; i < hits.size(); ++i) {
            const Hit& h = hits[i];
            const Entry& e = *std::partition_point(n.entries.begin(), n.entries.end(),
                                                   [&](const Entry& x) { return x.seq < h.seq; });
            if (i == 0 || hits[i - 1].seq != h.seq) out.push_back({ChangeEvent::Kind::Recovered, e.ev.pos, {}, {}, 0});
            ChangeEvent& r = out.back();
            if (i == 0 || hits[i - 1].seq != h.seq || hits[i - 1].group != h.group) r.groups.emplace_back();
            r.groups.back().ids.push_back(h.id);
            if (i + 1 == hits.size() || hits[i + 1].seq != h.seq || hits[i + 1].group != h.group)
                r.groups.back().payload = payloads::recovered_with_ids(e.ev.groups[h.group].payload, r.groups.back().ids);
        }
    }
    std::stable_sort(out.begin(), out.end(), [](const ChangeEvent& a, const ChangeEvent& b) { return !(b.pos <= a.pos); });
    return out;
}

}  // namespace rt
