// Parked subscriptions: parking at a close, keeping their changes within bounds, adoption
// by a rejoining client, expiry and the lapsed ones remembered for the late-comers.
#include "relay/hub/resume.h"

#include <algorithm>
#include <iterator>

#include "relay/core/json.h"
#include "relay/core/log.h"
#include "relay/protocol/jwt.h"
#include "relay/protocol/payloads.h"

namespace rt {
namespace {

constexpr size_t kMaxLapsed = 50000;   // memberships whose window passed, remembered
constexpr int kLapsedWindows = 10;     // ... for this many windows
constexpr int64_t kExpiryCheckMs = 1000;

// Each field length-prefixed, so that no content of one can pass for another's.
void append_field(std::string& key, std::string_view part) {
    key.append(std::to_string(part.size()));
    key.push_back(':');
    key.append(part);
}

std::string who_key(std::string_view topic, const std::string& role, const std::string& sub) {
    std::string key;
    append_field(key, topic);
    append_field(key, role);
    append_field(key, sub);
    return key;
}

void append_spec(std::string& key, const BindingSpec& s) {
    append_field(key, s.event);
    append_field(key, s.schema);
    append_field(key, s.table);
    append_field(key, s.filter);
    append_field(key, std::to_string(s.select.size()));
    for (const std::string& column : s.select) append_field(key, column);
}

std::string binding_key(std::string_view topic, const std::string& role, const std::string& sub,
                        const BindingSpec& spec) {
    std::string key = who_key(topic, role, sub);
    append_spec(key, spec);
    return key;
}

// A whole membership: its topic, who, and every binding in order.
std::string member_key(const Member& m, const Claims& claims) {
    std::string key = who_key(m.channel->topic, claims.role, claims.sub);
    for (const Binding& b : m.bindings) append_spec(key, b.spec);
    return key;
}

// What keeping a group for one subscription costs: the frame it will be sent (the
// group's data, with its own id and the recovered mark instead of the group's ids), its
// own id in the group's list, and the bookkeeping. A group kept for several
// subscriptions is shared, and each counts its data whole: the adoption makes a frame of
// it for each (the bound holds either way). The group's ids, one per matching
// subscription of every client, are counted one per subscription: counting the whole
// list (in its ids and its payload) for each counted a change kept for n subscriptions
// n times n; with 1 000 clients each missing 100 changes, 0.9 GB for under 1 MB held,
// and every one overflowed --resume-total-bytes after about 25 changes.
int64_t cost(const ChangeGroup& g) {
    constexpr size_t kOwnIds = 48;  // {"ids":[<one id>],"recovered":true
    const size_t ids_end = g.payload.find(']');  // payload is {"ids":[<integers>],"data":...}
    const size_t data = ids_end == std::string::npos ? g.payload.size() : g.payload.size() - ids_end;
    return static_cast<int64_t>(data + kOwnIds + sizeof(int64_t) + sizeof(ChangeEvent) + sizeof(ChangeGroup) + 32);
}

// The adopted ids a kept group goes out with: those of `adopted` it carries. A group
// kept for the one adopted id carries it (hold() keeps it for the ids it carries), so the
// group's ids, one per matching subscription of every client, need no search then.
std::vector<int64_t> own_ids(const ChangeGroup& g, const std::vector<int64_t>& adopted) {
    if (adopted.size() == 1) return adopted;
    std::vector<int64_t> own;
    for (int64_t id : g.ids)
        if (std::find(adopted.begin(), adopted.end(), id) != adopted.end()) own.push_back(id);
    return own;
}

// The exp of claims (a crash orphan's, as jsonb wrote them), 0 when it has none.
int64_t exp_of(const std::string& claims) {
    json::Document d;
    if (!json::parse(d, claims)) return 0;
    const json::Value* exp = json::member(d, "exp");
    return exp && exp->IsNumber() ? static_cast<int64_t>(exp->GetDouble()) : 0;
}

bool same_change(const ChangePos& a, const ChangePos& b) {
    return b.valid() && a.commit_lsn == b.commit_lsn && a.change_index == b.change_index;
}

}  // namespace

void Resume::adopt_orphans(std::vector<OrphanRow> rows) {
    const int64_t deadline = clock_.mono_ms + static_cast<int64_t>(cfg_.resume_grace_s) * 1000;
    for (OrphanRow& row : rows) {
        Parked p;
        p.key = binding_key("", row.role, row.sub, row.spec);
        p.claims = std::move(row.claims_json);
        p.token_exp_s = exp_of(p.claims);
        // Since when its client may have missed changes: the crash's time is not known.
        p.parked_s = row.created_s ? row.created_s : clock_.wall_s;
        // Parked when the node died: what the dead run kept for it died with it (only what
        // the slot holder had unconfirmed, or the slot here, comes again), so its adopter is
        // told. Even on the slot holder, whose slot gives the kept changes back, as when
        // another node adopts a dead one's row: an extra fetch rather than a guess. One whose
        // client was connected confirmed nothing it had not written: nothing to tell.
        if (row.parked_s) p.parked_s = p.lost_since_s = row.parked_s;
        p.row = std::move(row);
        p.deadline_ms = deadline;
        add(std::move(p));
    }
    if (!parked_.empty())
        LOG_INFO("keeping %zu subscriptions of a previous run of this node for %d s, for their clients to resume",
                 parked_.size(), cfg_.resume_grace_s);
    publish_gauges();
    expire();
}

bool Resume::park(const Member& m, const Claims& claims, std::vector<ChangeEvent> unsent) {
    if (cfg_.resume_window_s <= 0) return false;
    const uint64_t group = next_group_++;
    std::vector<int64_t> ids;
    for (size_t i = 0; i < m.bindings.size(); ++i) {
        const Binding& b = m.bindings[i];
        if (b.id <= 0 || b.ended) continue;  // no row to keep (refused at subscribe, or ended)
        Parked p;
        p.topic = m.channel->topic;
        p.index = i;
        p.row.id = b.id;
        p.row.spec = b.spec;
        p.row.role = claims.role;
        p.row.sub = claims.sub;
        p.key = binding_key(m.channel->topic, claims.role, claims.sub, b.spec);
        p.claims = claims.json;
        p.token_exp_s = claims.exp;
        p.group = group;
        p.live = b.live;
        p.deadline_ms = clock_.mono_ms + static_cast<int64_t>(cfg_.resume_window_s) * 1000;
        p.parked_s = clock_.wall_s;
        add(std::move(p));
        ids.push_back(b.id);
    }
    for (const ChangeEvent& ev : unsent)
        for (const ChangeGroup& g : ev.groups)
            for (int64_t id : g.ids) hold(id, ev, g);
    publish_gauges();
    if (ids.empty()) return false;
    record_parked(std::move(ids), clock_.wall_ms ? clock_.wall_ms : clock_.wall_s * 1000);
    return true;
}

// In a cluster, the database learns which rows are parked here (and which no longer), so
// that another node adopting one knows no client is connected here, and, if this node
// died, that what it kept for the row died with it (realtime.adopt).
void Resume::record_parked(std::vector<int64_t> ids, int64_t at_ms) {
    if (db_ && !cfg_.cluster_bind.empty()) db_->mark_parked(std::move(ids), at_ms);
}

void Resume::add(Parked p) {
    const int64_t id = p.row.id;
    if (parked_.count(id)) remove(id, false, nullptr);
    by_key_.emplace(p.key, id);
    next_expiry_ms_ = next_expiry_ms_ ? std::min(next_expiry_ms_, p.deadline_ms) : p.deadline_ms;
    parked_.emplace(id, std::move(p));
}

void Resume::remove(int64_t id, bool unsubscribe, std::vector<int64_t>* ids) {
    auto it = parked_.find(id);
    if (it == parked_.end()) return;
    Parked& p = it->second;
    auto range = by_key_.equal_range(p.key);
    for (auto k = range.first; k != range.second; ++k)
        if (k->second == id) {
            by_key_.erase(k);
            break;
        }
    if (!p.kept.empty()) fronts_.erase(fronts_.find(p.kept.front()->pos.commit_lsn));
    kept_bytes_ -= p.bytes;
    kept_changes_ -= static_cast<int64_t>(p.kept.size());
    parked_.erase(it);
    if (unsubscribe && ids) ids->push_back(id);
}

void Resume::mark_live(int64_t id) {
    auto it = parked_.find(id);
    if (it != parked_.end()) it->second.live = true;
}

void Resume::hold(int64_t id, const ChangeEvent& ev, const ChangeGroup& group) {
    auto it = parked_.find(id);
    if (it == parked_.end()) return;
    Parked& p = it->second;
    if (p.missed_since_s || token_expired(p)) return;  // it lacks some: what follows cannot be delivered as complete
    share(ev, group);
    const int64_t c = last_cost_;
    if (static_cast<int64_t>(p.kept.size()) >= cfg_.resume_max_changes || p.bytes + c > cfg_.resume_max_bytes ||
        kept_bytes_ + c > cfg_.resume_total_bytes) {
        overflow(p);
        return;
    }
    if (p.kept.empty()) fronts_.insert(ev.pos.commit_lsn);
    p.kept.push_back(last_kept_);
    p.bytes += c;
    kept_bytes_ += c;
    ++kept_changes_;
    publish_gauges();
}

// The ids of one group are held one after the other: they share one copy of it, and its
// cost, which reads the group's payload once, not once per id.
void Resume::share(const ChangeEvent& ev, const ChangeGroup& group) {
    if (last_kept_ && last_group_ == &group && ev.pos.valid() && last_kept_->pos.commit_lsn == ev.pos.commit_lsn &&
        last_kept_->pos.change_index == ev.pos.change_index)
        return;
    auto kept = std::make_shared<ChangeEvent>();
    kept->kind = ev.kind;
    kept->pos = ev.pos;
    kept->groups.push_back(group);
    last_kept_ = std::move(kept);
    last_group_ = &group;
    last_cost_ = cost(group);
}

// The earliest of since_s and what p missed (its dead run's keeping, or what it could not
// keep), with why.
void Resume::fold_missed(const Parked& p, int64_t& since_s, Member::Missed& why) {
    const auto earlier = [&](int64_t s, Member::Missed w) {
        if (s && (!since_s || s < since_s)) {
            since_s = s;
            why = w;
        }
    };
    earlier(p.lost_since_s, Member::Missed::NodeDied);
    earlier(p.missed_since_s, p.missed_why);
}

void Resume::overflow(Parked& p) {
    p.missed_since_s = clock_.wall_s;
    metrics_.resume_overflows++;
    LOG_INFO("parked subscription %lld missed more changes than it may keep; its client will be told",
             static_cast<long long>(p.row.id));
}

// A parked subscription's token expired: what the decoder decides from now on was decided
// with a token no longer valid (a connected client's subscription would end here), so it
// keeps nothing more. A refreshed token's rejoin adopts what was kept before and is told
// it missed changes since the expiry.
bool Resume::token_expired(Parked& p) {
    if (!p.token_exp_s || clock_.wall_s < p.token_exp_s) return false;
    p.missed_since_s = p.token_exp_s;
    p.missed_why = Member::Missed::Expired;
    LOG_INFO("the token of parked subscription %lld expired; it keeps nothing more", static_cast<long long>(p.row.id));
    return true;
}

// The parked ids m's bindings would adopt, in binding order; false unless all match. Of
// several that match a binding, one parked with claims that grant the same (same_grant:
// equal but for exp, iat, nbf, jti) is taken first; stale: some chosen one was parked
// with other claims.
bool Resume::match(const Member& m, const Claims& claims, std::vector<int64_t>& chosen, bool& stale) const {
    for (const Binding& b : m.bindings) {
        if (b.failed()) {
            chosen.push_back(0);  // it never had a row
            continue;
        }
        int64_t found = 0;
        int64_t other = 0;  // one parked with other claims
        for (std::string_view topic : {std::string_view(m.channel->topic), std::string_view()}) {
            auto range = by_key_.equal_range(binding_key(topic, claims.role, claims.sub, b.spec));
            for (auto k = range.first; k != range.second && !found; ++k) {
                if (std::find(chosen.begin(), chosen.end(), k->second) != chosen.end()) continue;
                if (same_grant(parked_.at(k->second).claims, claims.json))
                    found = k->second;
                else if (!other)
                    other = k->second;
            }
            if (found) break;
        }
        if (!found && other) {
            found = other;
            stale = true;
        }
        if (!found) return false;
        chosen.push_back(found);
    }
    return true;
}

bool Resume::try_adopt(Member& m, const Claims& claims) {
    m.missed_since_s = 0;
    m.missed_why = Member::Missed::Overflow;
    std::vector<int64_t> chosen;
    bool stale = false;
    if (!parked_.empty() && match(m, claims, chosen, stale)) {
        if (stale) {
            discard(m, chosen);
            return false;
        }
        refresh(m, chosen, claims);
        take(m, chosen);
        return true;
    }
    if (!lapsed_.empty()) {
        auto it = lapsed_.find(member_key(m, claims));
        if (it != lapsed_.end()) {
            m.missed_since_s = it->second.since_s;
            m.missed_why = Member::Missed::Window;
            lapsed_.erase(it);  // told once
        }
    }
    return false;
}

// A token refreshed while the connection was away (another exp or iat; same_grant): the
// adopted rows take its claims as a refresh by access_token gives them
// (realtime.update_claims, in WAL order), so the decoder decides what commits after that
// with them. What was kept stays: it was decided with claims that grant the same, under a
// token valid then (docs/architecture.md, "Parked subscriptions").
void Resume::refresh(const Member& m, const std::vector<int64_t>& chosen, const Claims& claims) {
    std::vector<int64_t> ids;
    for (int64_t id : chosen)
        if (id != 0 && !json::same(parked_.at(id).claims, claims.json)) ids.push_back(id);
    if (db_ && !ids.empty()) db_->update_claims(m.conn->id, std::move(ids), claims.json);
}

// The chosen parked ids were made with other claims than m's token has now: whether the
// new claims may see what they kept cannot be told without deciding each change again,
// so none of it is delivered (never deliver on doubt). Their rows go; m is subscribed
// anew with its claims and told it missed changes since the earliest of them parked.
void Resume::discard(Member& m, const std::vector<int64_t>& chosen) {
    std::vector<int64_t> ids;
    for (int64_t id : chosen) {
        if (id == 0) continue;
        const Parked& p = parked_.at(id);
        if (!m.missed_since_s || p.parked_s < m.missed_since_s) m.missed_since_s = p.parked_s;
        remove(id, true, &ids);
    }
    m.missed_why = Member::Missed::Claims;
    metrics_.resume_claims_changed += ids.size();
    publish_gauges();
    LOG_INFO("connection %llu rejoined with other claims than its %zu parked subscriptions had: not resumed, "
             "subscribed anew", static_cast<unsigned long long>(m.conn->id), ids.size());
    if (db_ && !ids.empty()) db_->unsubscribe(std::move(ids));
}

// m adopts the chosen parked ids: their kept changes, once each and in commit order.
void Resume::take(Member& m, const std::vector<int64_t>& chosen) {
    std::vector<int64_t> adopted;  // chosen without the bindings refused before they had a row (0)
    for (size_t i = 0; i < chosen.size(); ++i) {
        if (chosen[i] == 0) continue;  // a binding refused before it had a row
        const Parked& p = parked_.at(chosen[i]);
        m.bindings[i].id = chosen[i];
        m.bindings[i].live = p.live;
        fold_missed(p, m.missed_since_s, m.missed_why);
        adopted.push_back(chosen[i]);
    }
    std::vector<ChangeEvent> events = recovered(adopted);
    for (int64_t id : adopted) remove(id, false, nullptr);
    const size_t changes = events.size();
    std::move(events.begin(), events.end(), std::back_inserter(m.replay));
    metrics_.resume_recovered += adopted.size();
    metrics_.resume_recovered_changes += changes;
    record_parked(adopted, 0);
    publish_gauges();
    LOG_INFO("connection %llu resumed %zu subscriptions with %zu kept changes%s",
             static_cast<unsigned long long>(m.conn->id), adopted.size(), changes,
             m.missed_since_s ? " (it missed more)" : "");
}

// What the parked ids kept, for their client: several may have kept one change, so one
// event per position, each distinct group of it once (ids in different column views are
// different groups), marked recovered with the ids' own. The kept groups are read where
// they are, not copied: their ids count every client's.
std::vector<ChangeEvent> Resume::recovered(const std::vector<int64_t>& ids) const {
    std::vector<Kept> kept;
    for (int64_t id : ids) {
        const Parked& p = parked_.at(id);
        kept.insert(kept.end(), p.kept.begin(), p.kept.end());
    }
    std::stable_sort(kept.begin(), kept.end(), [](const Kept& a, const Kept& b) { return !(b->pos <= a->pos); });
    std::vector<ChangeEvent> out;
    std::vector<const ChangeGroup*> sources;  // the groups already taken for this position
    for (size_t i = 0; i < kept.size(); ++i) {
        const ChangeEvent& ev = *kept[i];
        if (i == 0 || !same_change(kept[i - 1]->pos, ev.pos)) {
            out.push_back({ev.kind, ev.pos, {}, {}, 0});
            sources.clear();
        }
        for (const ChangeGroup& g : ev.groups) {
            if (std::any_of(sources.begin(), sources.end(),
                            [&](const ChangeGroup* h) { return h == &g || h->payload == g.payload; }))
                continue;
            sources.push_back(&g);
            ChangeGroup own;
            own.ids = own_ids(g, ids);
            own.payload = payloads::recovered_with_ids(g.payload, own.ids);
            out.back().groups.push_back(std::move(own));
        }
    }
    return out;
}

// Another node adopted the asked ids (their client came back there while they were parked
// here, realtime.adopt moved their rows): what they kept goes to it, and they are
// forgotten here without unsubscribing (the rows are that node's now). Asked once their
// rows are live there, so what this node confirmed to the slot holder before the move is
// all kept here, and what it had not was handed to that node by the holder.
KeptHandOver Resume::hand_over(const KeptAsk& ask) {
    KeptHandOver h;
    h.id = ask.id;
    for (int64_t id : ask.subscriptions) {
        auto it = parked_.find(id);
        if (it == parked_.end()) continue;
        h.handed.push_back(id);
        Member::Missed why = static_cast<Member::Missed>(h.missed_why);
        fold_missed(it->second, h.missed_since_s, why);
        h.missed_why = static_cast<uint8_t>(why);
    }
    h.changes = recovered(h.handed);
    for (int64_t id : h.handed) remove(id, false, nullptr);
    metrics_.resume_moved += h.handed.size();
    publish_gauges();
    LOG_INFO("handing %zu kept changes of %zu parked subscriptions (of %zu asked) to the node that adopted them",
             h.changes.size(), h.handed.size(), ask.subscriptions.size());
    return h;
}

void Resume::forget_lapsed(int64_t now_ms) {
    while (!lapsed_order_.empty()) {
        auto it = lapsed_.find(lapsed_order_.front());
        bool stale = it == lapsed_.end() || it->second.forget_ms <= now_ms || lapsed_order_.size() > kMaxLapsed;
        if (!stale) break;
        if (it != lapsed_.end()) lapsed_.erase(it);
        lapsed_order_.pop_front();
    }
}

void Resume::expire() {
    const int64_t now = clock_.mono_ms;
    forget_lapsed(now);
    if (parked_.empty() || now < next_expiry_ms_ || keep_rows_) return;
    std::unordered_map<uint64_t, std::vector<const Parked*>> groups;
    std::vector<int64_t> due;
    next_expiry_ms_ = 0;
    for (auto& [id, p] : parked_) {
        if (p.deadline_ms > now) {
            next_expiry_ms_ = next_expiry_ms_ ? std::min(next_expiry_ms_, p.deadline_ms) : p.deadline_ms;
            continue;
        }
        due.push_back(id);
        if (p.group) groups[p.group].push_back(&p);
    }
    if (next_expiry_ms_ == 0) next_expiry_ms_ = now + kExpiryCheckMs;
    if (due.empty()) return;
    for (auto& [group, members] : groups) remember_lapsed(members);
    std::vector<int64_t> ids;
    for (int64_t id : due) remove(id, true, &ids);
    metrics_.resume_expired += ids.size();
    publish_gauges();
    LOG_INFO("removing %zu parked subscriptions whose clients did not come back in time", ids.size());
    if (db_ && !ids.empty()) db_->unsubscribe(std::move(ids));
}

// A membership whose window passed: its client, coming back later, is told it missed
// changes since it left. Its parts are in binding order (parked in that order).
void Resume::remember_lapsed(const std::vector<const Parked*>& group) {
    std::vector<const Parked*> parts = group;
    std::sort(parts.begin(), parts.end(), [](const Parked* a, const Parked* b) { return a->index < b->index; });
    const Parked& first = *parts.front();
    std::string key = who_key(first.topic, first.row.role, first.row.sub);
    for (const Parked* p : parts) append_spec(key, p->row.spec);
    Lapsed l;
    l.key = key;
    l.since_s = first.parked_s;
    l.forget_ms = clock_.mono_ms + static_cast<int64_t>(cfg_.resume_window_s) * 1000 * kLapsedWindows;
    if (lapsed_.emplace(key, l).second) lapsed_order_.push_back(std::move(key));
}

void Resume::publish_gauges() {
    metrics_.resume_parked.store(static_cast<int64_t>(parked_.size()));
    metrics_.resume_kept_changes.store(kept_changes_);
    metrics_.resume_kept_bytes.store(kept_bytes_);
}

}  // namespace rt
