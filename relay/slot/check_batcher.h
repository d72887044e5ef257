// The check step of the slot holder: batching the general path's checks of row level
// security (docs/architecture.md, "Row level security") into realtime.check_rows calls.
//
// A check is identified by its key (schema, table, role, quals, per_user). Documents
// with the same key accumulate while a call for that key is in flight, and go together
// in the next call (at most kMaxRows rows per call): one round trip per batch, never
// one per subscriber or per document while the database is busy. Every row of a call
// is checked against the union of its documents' candidates; each document's verdict
// keeps only its own candidates. A call that failed (timeout, error) passes nobody:
// each of its candidates gets the error. Pure logic: the caller runs the calls
// (CheckPort) and hands back their outcomes.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace rt {

struct CheckKey {
    std::string schema, table, role;
    std::vector<std::string> quals;
    bool per_user = false;

    std::string id() const;  // one string per distinct key
};

// One realtime.check_rows call: rows are numbered from 1 in the order given.
struct CheckCall {
    uint64_t id = 0;
    CheckKey key;
    std::vector<std::string> rows;
    std::vector<int64_t> candidates;  // the union of the documents' candidates
    // The pairs to check: candidate pair_ids[k] against row pair_rows[k] (1-based), each
    // document's own candidates only (not every row against the union); empty when
    // every document has all of the candidates (every row against every candidate).
    std::vector<int> pair_rows;
    std::vector<int64_t> pair_ids;
};

// What a call returned: the rows of realtime.check_rows, or the call's error.
struct CheckOutcome {
    struct Row {
        int row_number = 0;  // 1-based; 0 (NULL) on an error row
        int64_t id = 0;
        bool failed = false;  // the evaluation raised for this candidate
        std::string error;
    };
    bool ok = true;
    std::string error;  // !ok: why the call failed, as a subscriber is told it
    std::vector<Row> rows;
};

// One document's answer: its candidates that pass, and those whose check raised.
struct CheckVerdict {
    uint64_t ticket = 0;
    std::vector<int64_t> passed;
    std::vector<std::pair<int64_t, std::string>> errors;
};

class CheckBatcher {
public:
    static constexpr size_t kMaxRows = 100;

    // A document's row and its candidates for the check key; ticket names it in the
    // verdict. Returns a call to start now when none is in flight for the key.
    std::optional<CheckCall> submit(const CheckKey& key, uint64_t ticket, std::string row,
                                    std::vector<int64_t> candidates);
    // The call finished: a verdict per document of it, in order; next is the key's next
    // call when documents accumulated meanwhile. A call not known (before reset()) gives
    // nothing.
    std::vector<CheckVerdict> finished(uint64_t call_id, const CheckOutcome& outcome, std::optional<CheckCall>& next);
    // Forgets every call and waiting document (a new stream of the slot).
    void reset();

    size_t in_flight() const { return by_call_.size(); }
    size_t waiting() const;

private:
    struct Doc {
        uint64_t ticket;
        std::string row;
        std::vector<int64_t> candidates;
    };
    struct Lane {
        CheckKey key;
        uint64_t call = 0;          // in flight (0: none)
        std::vector<Doc> running;   // the documents of the call in flight, in row order
        std::deque<Doc> waiting;
    };

    CheckCall start(Lane& lane);

    std::unordered_map<std::string, Lane> lanes_;
    std::unordered_map<uint64_t, std::string> by_call_;  // call id -> lane
    uint64_t next_call_ = 1;
};

}  // namespace rt
