// Batching checks into realtime.check_rows calls, and their verdicts per document.
#include "relay/slot/check_batcher.h"

#include <algorithm>
#include <unordered_set>

namespace rt {

std::string CheckKey::id() const {
    // Length-prefixed parts: no two keys spell the same id.
    std::string id;
    auto add = [&id](const std::string& part) {
        id += std::to_string(part.size());
        id.push_back(':');
        id += part;
    };
    add(schema);
    add(table);
    add(role);
    id.push_back(per_user ? 'u' : 's');
    for (const std::string& q : quals) add(q);
    return id;
}

std::optional<CheckCall> CheckBatcher::submit(const CheckKey& key, uint64_t ticket, std::string row,
                                              std::vector<int64_t> candidates) {
    std::string id = key.id();
    auto [it, fresh] = lanes_.try_emplace(id);
    Lane& lane = it->second;
    if (fresh) lane.key = key;
    lane.waiting.push_back({ticket, std::move(row), std::move(candidates)});
    if (lane.call) return std::nullopt;
    CheckCall call = start(lane);
    by_call_[call.id] = std::move(id);
    return call;
}

CheckCall CheckBatcher::start(Lane& lane) {
    CheckCall call;
    call.id = next_call_++;
    call.key = lane.key;
    lane.call = call.id;
    lane.running.clear();
    std::unordered_set<int64_t> seen;
    while (!lane.waiting.empty() && lane.running.size() < kMaxRows) {
        Doc doc = std::move(lane.waiting.front());
        lane.waiting.pop_front();
        call.rows.push_back(doc.row);
        for (int64_t c : doc.candidates) {
            if (seen.insert(c).second) call.candidates.push_back(c);
            call.pair_rows.push_back(static_cast<int>(call.rows.size()));
            call.pair_ids.push_back(c);
        }
        lane.running.push_back(std::move(doc));
    }
    // Every document with the union of the candidates: every row against every
    // candidate, which Postgres evaluates best as one join (no pairs sent).
    bool all_alike = true;
    for (const Doc& d : lane.running) all_alike = all_alike && d.candidates.size() == call.candidates.size();
    if (all_alike) {
        call.pair_rows.clear();
        call.pair_ids.clear();
    }
    return call;
}

namespace {

// Each document's own candidates: the pairs of its row that passed, and the errors.
CheckVerdict verdict_of(uint64_t ticket, int row_number, const std::vector<int64_t>& candidates,
                        const CheckOutcome& outcome) {
    CheckVerdict v;
    v.ticket = ticket;
    std::unordered_set<int64_t> mine(candidates.begin(), candidates.end());
    if (!outcome.ok) {
        for (int64_t c : candidates) v.errors.emplace_back(c, outcome.error);
        return v;
    }
    std::unordered_set<int64_t> failed;
    for (const CheckOutcome::Row& r : outcome.rows)
        if (r.failed && mine.count(r.id) && failed.insert(r.id).second) v.errors.emplace_back(r.id, r.error);
    for (const CheckOutcome::Row& r : outcome.rows)
        if (!r.failed && r.row_number == row_number && mine.count(r.id) && !failed.count(r.id))
            v.passed.push_back(r.id);
    std::sort(v.passed.begin(), v.passed.end());
    v.passed.erase(std::unique(v.passed.begin(), v.passed.end()), v.passed.end());
    return v;
}

}  // namespace

std::vector<CheckVerdict> CheckBatcher::finished(uint64_t call_id, const CheckOutcome& outcome,
                                                 std::optional<CheckCall>& next) {
    next.reset();
    auto it = by_call_.find(call_id);
    if (it == by_call_.end()) return {};
    std::string lane_id = std::move(it->second);
    by_call_.erase(it);
    Lane& lane = lanes_[lane_id];
    std::vector<CheckVerdict> verdicts;
    for (size_t i = 0; i < lane.running.size(); ++i)
        verdicts.push_back(verdict_of(lane.running[i].ticket, static_cast<int>(i + 1), lane.running[i].candidates,
                                      outcome));
    lane.running.clear();
    lane.call = 0;
    if (lane.waiting.empty()) {
        lanes_.erase(lane_id);
    } else {
        next = start(lane);
        by_call_[next->id] = lane_id;
    }
    return verdicts;
}

void CheckBatcher::reset() {
    lanes_.clear();
    by_call_.clear();
}

size_t CheckBatcher::waiting() const {
    size_t n = 0;
    for (const auto& [id, lane] : lanes_) n += lane.waiting.size();
    return n;
}

}  // namespace rt
